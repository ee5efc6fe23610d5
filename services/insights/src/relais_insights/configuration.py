"""What the insights service builds once at start: merchants, API keys, signer, clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from relais_insights.settings import InsightsSettings
from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.clock import Clock, clock_from_spec
from relais_runtime.links import LinkSigner
from relais_runtime.merchants import MerchantConfig, MerchantConfigError, load_merchants
from relais_runtime.settings import ConfigurationError


@dataclass(frozen=True)
class InsightsConfiguration:
    merchants: dict[str, MerchantConfig]
    keys: ApiKeyRing
    signer: LinkSigner
    clock: Clock
    secure_cookies: bool
    session_max_age: timedelta


def load_configuration(settings: InsightsSettings) -> InsightsConfiguration:
    try:
        merchants = dict(load_merchants(settings.merchants_dir)) if settings.merchants_dir else {}
    except MerchantConfigError as error:
        raise ConfigurationError(str(error)) from None
    max_age = timedelta(hours=settings.session_hours)
    return InsightsConfiguration(
        merchants=merchants,
        keys=ApiKeyRing.of(merchants),
        signer=LinkSigner(secret=settings.link_secret.get_secret_value(), max_age=max_age),
        clock=clock_from_spec(settings.clock),
        secure_cookies=settings.secure_cookies,
        session_max_age=max_age,
    )
