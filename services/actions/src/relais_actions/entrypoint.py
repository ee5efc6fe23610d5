"""Start the actions: build its settings, merchants, HTTP client and clock once, run it.

Start-up fails with ConfigurationError, naming the file, the field and the reason,
when the merchant configuration is invalid or a webhook secret cannot be resolved.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Mapping
from pathlib import Path

import httpx

from relais_actions.handlers import ActionsRuntime, wire_with
from relais_actions.settings import ActionsSettings
from relais_actions.webhook import Endpoint
from relais_runtime.clock import Clock, clock_from_spec
from relais_runtime.merchants import MerchantConfig, MerchantConfigError, load_merchants
from relais_runtime.service import Dependencies, ServiceSpec, Wiring, serve_until_signalled
from relais_runtime.settings import ConfigurationError, load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def load_merchant_configs(settings: ActionsSettings) -> Mapping[str, MerchantConfig]:
    """Every merchant of `merchants_dir`; none when it is unset."""
    if settings.merchants_dir is None:
        return {}
    try:
        return dict(load_merchants(settings.merchants_dir))
    except MerchantConfigError as error:
        raise ConfigurationError(str(error)) from None


def resolve_endpoints(
    merchants: Mapping[str, MerchantConfig],
    *,
    directory: Path | None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Endpoint]:
    """Each merchant's webhook with its secrets read; ConfigurationError if one is missing."""
    env = dict(os.environ if environ is None else environ)
    endpoints: dict[str, Endpoint] = {}
    problems: list[str] = []
    for merchant_id, config in merchants.items():
        if config.actions is None:
            continue
        webhook = config.actions.webhook
        refs = {"secret": webhook.secret} | {
            f"previous_secrets.{index}": ref for index, ref in enumerate(webhook.previous_secrets)
        }
        secrets: list[bytes] = []
        for field, ref in refs.items():
            try:
                secrets.append(ref.resolve(env).encode())
            except LookupError as error:
                where = directory / f"{merchant_id}.yaml" if directory else merchant_id
                problems.append(f"{where}: actions.webhook.{field}: {error}")
        endpoints[merchant_id] = Endpoint(
            url=str(webhook.url), secrets=tuple(secrets), timeout_s=webhook.timeout_s
        )
    if problems:
        raise ConfigurationError("\n".join(problems))
    return endpoints


def build_spec(
    *,
    settings: ActionsSettings,
    http: httpx.AsyncClient,
    merchants: Mapping[str, MerchantConfig] | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> ServiceSpec[ActionsSettings]:
    """The actions service with its dependencies; tests pass their own."""
    configs = load_merchant_configs(settings) if merchants is None else merchants
    runtime = ActionsRuntime(
        settings=settings,
        merchants=configs,
        endpoints=resolve_endpoints(configs, directory=settings.merchants_dir, environ=environ),
        http=http,
        clock=clock or clock_from_spec(settings.clock),
        rng=rng or random.Random(),
    )

    def wire(dependencies: Dependencies[ActionsSettings]) -> Wiring:
        return wire_with(runtime, dependencies)

    return ServiceSpec(name="actions", schema="actions", migrations_dir=MIGRATIONS_DIR, wire=wire)


async def serve(settings: ActionsSettings) -> None:
    async with httpx.AsyncClient() as http:
        await serve_until_signalled(build_spec(settings=settings, http=http), settings)


def main(settings: ActionsSettings | None = None) -> None:
    asyncio.run(serve(settings or load_settings(ActionsSettings)))
