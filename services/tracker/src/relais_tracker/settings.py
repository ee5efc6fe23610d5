"""The tracker's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field, HttpUrl, field_validator

from relais_contracts.topics.carrier_updates import MAX_PAYLOAD_CHARS
from relais_runtime.merchants.tracking import CarrierWebhookAuth
from relais_runtime.settings import RuntimeSettings
from relais_tracker.adapters.pull.config import PullCredentials, pull_carriers_of


class TrackerSettings(RuntimeSettings):
    service_name: str = "tracker"
    http_port: int = Field(default=8001, ge=0, le=65535)

    carrier_webhooks: dict[str, CarrierWebhookAuth] = Field(
        default_factory=dict,
        description="Platform-level carrier webhook credentials by carrier code "
        "(RELAIS_CARRIER_WEBHOOKS as JSON); merchants may add their own in their "
        "`tracking` section.",
    )
    webhook_signature_tolerance_s: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="A carrier webhook whose signature carries a timestamp further than "
        "this from the tracker's clock is refused with 401 (replay protection).",
    )
    webhook_max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=MAX_PAYLOAD_CHARS * 3 // 4,
        description="Larger webhook bodies get 413; kept under the carrier-updates "
        "message limit even once base64-encoded.",
    )

    carrier_batch_max: int = Field(default=1000, ge=1, le=10_000)
    """Carrier updates handled per transaction by the batch consumer."""

    held_event_ttl_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="A carrier event that matches no order is held this long after it "
        "was received (waiting for its order), then deleted and counted as expired.",
    )
    held_event_sweep_interval_s: float = Field(default=60.0, gt=0)
    """How often the expiry pass looks for held events past their time."""
    held_event_sweep_batch: int = Field(default=1000, ge=1, le=10_000)
    """Held events deleted per transaction by the expiry pass."""

    poll_base_url: HttpUrl | None = Field(
        default=None,
        description="Generic tracking API polled as GET <base>/<carrier>/<tracking "
        "number> for `poll_carriers`; None: only `pull_carriers` are polled.",
    )
    poll_carriers: tuple[str, ...] = ()
    """Carriers polled through `poll_base_url` (those without a pull client)."""
    pull_carriers: dict[str, PullCredentials] = Field(
        default_factory=dict,
        description="Carriers polled through their own tracking API, with their "
        'credentials (RELAIS_PULL_CARRIERS as JSON, e.g. {"ups": {"client_id": ..., '
        '"client_secret": ...}, "dhl": {"api_key": ...}}); see docs/carriers.md.',
    )
    poll_interval_s: float = Field(default=3600.0, gt=0)
    """How often a shipment is polled at most (regular pace)."""
    poll_out_for_delivery_interval_s: float = Field(default=900.0, gt=0)
    """Pace of a shipment out for delivery (never slower than `poll_interval_s`)."""
    poll_promise_near_interval_s: float = Field(default=1800.0, gt=0)
    """Pace of a shipment whose promised or estimated day is within
    `poll_promise_window_days` of today (never slower than `poll_interval_s`)."""
    poll_promise_window_days: int = Field(default=1, ge=0, le=30)
    poll_max_wait_s: float = Field(default=30.0, gt=0)
    """Longest wait for a carrier's rate limit or pause before a poll gives up (the
    shipment is polled at its next turn)."""
    poll_rate_per_s: float = Field(default=5.0, gt=0)
    poll_max_attempts: int = Field(default=4, ge=1, le=20)
    poll_backoff_initial_s: float = Field(default=0.5, gt=0)
    poll_backoff_max_s: float = Field(default=30.0, gt=0)
    poll_timeout_s: float = Field(default=10.0, gt=0)
    poll_batch: int = Field(default=200, ge=1, le=10_000)

    topic_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Registry topic name -> topic actually used (benchmarks, isolated "
        "test runs); empty in production.",
    )

    @field_validator("pull_carriers")
    @classmethod
    def _known_pull_carriers(cls, value: dict[str, PullCredentials]) -> dict[str, PullCredentials]:
        """Keyed by Relais carrier code; each carrier with a client and its credentials."""
        return pull_carriers_of(value)
