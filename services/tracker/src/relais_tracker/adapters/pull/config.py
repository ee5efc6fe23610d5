"""The carriers' tracking APIs the tracker can pull from: their addresses, what each needs
to authenticate, and their documented limits; and the per-carrier credentials of the
settings (`TrackerSettings.pull_carriers`, `RELAIS_PULL_CARRIERS` as JSON).

Rules:
- a carrier is named any way the alias table knows (`laposte` is `colissimo`);
- a carrier without a pull client, or without the credentials its API needs, stops
  start-up (the settings' validator raises, `load_settings` reports it as
  ConfigurationError naming `pull_carriers.<carrier>.<field>`);
- secrets are `SecretStr` (never printed, never logged); base URLs can be overridden
  (sandboxes, tests); a rate limit or daily quota given here replaces the documented
  one (a contract with a higher limit, or a share of it kept for other applications).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

from relais_tracker.adapters.carriers.aliases import known_carrier
from relais_tracker.adapters.pull.rate import RateLimit


class PullCredentials(BaseModel):
    """One carrier account's access to its tracking API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str | None = Field(default=None, min_length=1)
    """OAuth2 client id (UPS, FedEx)."""
    client_secret: SecretStr | None = None
    """OAuth2 client secret (UPS, FedEx)."""
    api_key: SecretStr | None = None
    """API key (DHL `DHL-API-Key`, La Poste `X-Okapi-Key`)."""
    account_number: str | None = Field(default=None, min_length=1, max_length=32)
    """UPS: the shipper account sent as `x-merchant-id` with token requests (optional)."""
    base_url: HttpUrl | None = None
    """Replaces the production address (sandbox, tests)."""
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}([_-][A-Za-z]{2})?$")
    """Language of the carrier's descriptions (UPS `locale`, La Poste `lang`, DHL
    `language`); each API's default otherwise."""
    max_calls: int | None = Field(default=None, ge=1)
    per_s: float | None = Field(default=None, gt=0)
    """Rate limit: at most `max_calls` calls per `per_s` seconds (both, or neither)."""
    daily_quota: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class PullApi:
    name: str
    base_url: str
    """Production address; `sandbox_url` is the carrier's test environment."""
    sandbox_url: str | None
    needs: tuple[str, ...]
    limit: RateLimit
    limit_source: str


# Addresses and authentication: the carriers' API references, and karrio's connectors
# (karrioapi/karrio modules/connectors/<carrier>/karrio/mappers/<carrier>/proxy.py and
# settings.py) for what their production and sandbox servers are.
PULL_APIS: Final[dict[str, PullApi]] = {
    "ups": PullApi(
        name="UPS Track API (OAuth2 client credentials)",
        base_url="https://onlinetools.ups.com",
        sandbox_url="https://wwwcie.ups.com",
        needs=("client_id", "client_secret"),
        # UPS publishes no figure; it answers 429 past the limit of the application.
        limit=RateLimit(calls=10, period_s=1.0),
        limit_source="none published (developer.ups.com); 429 honoured",
    ),
    "fedex": PullApi(
        name="FedEx Track API (OAuth2 client credentials)",
        base_url="https://apis.fedex.com",
        sandbox_url="https://apis-sandbox.fedex.com",
        needs=("client_id", "client_secret"),
        limit=RateLimit(calls=1400, period_s=10.0, daily_quota=100_000),
        limit_source="developer.fedex.com/api/en-us/guides/ratelimits.html: 1400 "
        "transactions per 10 s per project; Track capability 100K requests per day",
    ),
    "dhl": PullApi(
        name="DHL Shipment Tracking - Unified (DHL-API-Key)",
        base_url="https://api-eu.dhl.com",
        sandbox_url=None,
        needs=("api_key",),
        limit=RateLimit(calls=1, period_s=1.0, daily_quota=250),
        limit_source="support-developer.dhl.com article 47001242738: 250 calls per day and "
        "1 per second for a new app (upgradable); the day resets at 24:00 GMT",
    ),
    "colissimo": PullApi(
        name="La Poste Suivi v2 (Okapi, X-Okapi-Key)",
        base_url="https://api.laposte.fr",
        sandbox_url=None,
        needs=("api_key",),
        limit=RateLimit(calls=100, period_s=60.0),
        limit_source="faq.developer.laposte.fr (limits of the APIs): 100 calls per minute "
        "per application key",
    ),
    "chronopost": PullApi(
        name="Chronopost TrackingServiceWS (SOAP, trackSkybillV2)",
        base_url="https://ws.chronopost.fr",
        sandbox_url=None,
        needs=(),
        # Chronopost publishes no figure for its tracking web service.
        limit=RateLimit(calls=5, period_s=1.0),
        limit_source="none published; 429 honoured",
    ),
}


def pull_carriers_of(value: dict[str, PullCredentials]) -> dict[str, PullCredentials]:
    """The credentials by Relais carrier code; ValueError naming the carrier and field
    for an unknown carrier, a carrier without a pull client or a missing credential."""
    checked: dict[str, PullCredentials] = {}
    for name, credentials in value.items():
        code = known_carrier(name) or name
        api = PULL_APIS.get(code)
        if api is None:
            raise ValueError(
                f"pull_carriers.{name}: no pull client for this carrier "
                f"(known: {', '.join(sorted(PULL_APIS))})"
            )
        if code in checked:
            raise ValueError(f"pull_carriers.{name}: {code} is configured twice")
        for field in api.needs:
            if getattr(credentials, field) is None:
                raise ValueError(f"pull_carriers.{name}.{field} is required by the {api.name}")
        if (credentials.max_calls is None) != (credentials.per_s is None):
            raise ValueError(f"pull_carriers.{name}: max_calls and per_s go together")
        checked[code] = credentials
    return checked


def rate_limit_of(carrier: str, credentials: PullCredentials) -> RateLimit:
    """The configured limit, else the carrier's documented one."""
    documented = PULL_APIS[carrier].limit
    calls, period = documented.calls, documented.period_s
    if credentials.max_calls is not None and credentials.per_s is not None:
        calls, period = credentials.max_calls, credentials.per_s
    quota = credentials.daily_quota or documented.daily_quota
    return RateLimit(calls=calls, period_s=period, daily_quota=quota)
