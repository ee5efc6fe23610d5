"""The chat's start-up: its configuration, read and checked once, and its wiring.

Rules:
- `configure` is the only place that reads the settings, the scenario packs and the
  merchants and builds the link signer and the clock; it touches no network;
- every merchant's `chat` section is checked against the scenario library
  (domain.library) before the service starts: a bad scenario, a bad merchant file
  or a mismatch raises ConfigurationError naming the file, the field and the reason;
- the pages' gettext catalogues (ui.words) are read here, once: a broken or missing
  one stops the start-up naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from relais_chat import handlers
from relais_chat.adapters.page_pool import PagePool
from relais_chat.adapters.scenario_files import load_pack, pack_directories
from relais_chat.domain.access import make_signer
from relais_chat.domain.library import merchant_problems
from relais_chat.domain.scenarios import Scenario, ScenarioError
from relais_chat.service.lookup import Lookup, LookupLimits, bucket_key
from relais_chat.service.pages import CustomerPages
from relais_chat.service.views import ViewRecorder
from relais_chat.settings import ChatSettings
from relais_chat.ui import words
from relais_runtime.clock import Clock
from relais_runtime.links import LinkSigner
from relais_runtime.merchants import MerchantDirectory, merchants_of
from relais_runtime.service import Dependencies, ServiceSpec, Wiring
from relais_runtime.settings import ConfigurationError, secret_values

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


@dataclass(frozen=True)
class ChatConfiguration:
    merchants: MerchantDirectory
    scenarios: Mapping[str, Scenario]
    signer: LinkSigner
    clock: Clock


def configure(settings: ChatSettings) -> ChatConfiguration:
    try:
        scenarios = load_pack(pack_directories(settings.scenarios_dir))
    except ScenarioError as error:
        raise ConfigurationError(str(error)) from None
    catalogue_problems = words.check_catalogues()
    if catalogue_problems:
        raise ConfigurationError("\n".join(catalogue_problems))
    merchants = merchants_of(settings.merchants_dir)
    problems = [
        problem
        for merchant in merchants.values()
        for problem in merchant_problems(merchant, scenarios)
    ]
    if problems:
        where = settings.merchants_dir
        raise ConfigurationError("\n".join(f"{where}/{problem}" for problem in problems))
    return ChatConfiguration(
        merchants=merchants,
        scenarios=scenarios,
        signer=make_signer(secret_values(settings.customer_link_secrets)),
        clock=settings.build_clock(),
    )


def build_spec(configuration: ChatConfiguration | None = None) -> ServiceSpec[ChatSettings]:
    """Without a configuration, wiring configures from the settings it is given."""
    return ServiceSpec(
        name="chat",
        schema="chat",
        migrations_dir=MIGRATIONS_DIR,
        wire=partial(wire, configuration=configuration),
    )


def wire(
    dependencies: Dependencies[ChatSettings], *, configuration: ChatConfiguration | None = None
) -> Wiring:
    configuration = configuration or configure(dependencies.settings)
    settings = dependencies.settings
    page_pool = PagePool(
        database_url=settings.database_url,
        service_pool=dependencies.pool,
        max_size=settings.database_pool_max,
    )
    views = ViewRecorder(dependencies.pool)
    pages = CustomerPages(
        pool=dependencies.pool,
        page_pool=page_pool,
        views=views,
        merchants=configuration.merchants,
        scenarios=configuration.scenarios,
        signer=configuration.signer,
        clock=configuration.clock,
        lookup=Lookup(
            pool=dependencies.pool,
            signer=configuration.signer,
            clock=configuration.clock,
            limits=LookupLimits(
                per_client=settings.lookup_attempts_per_client,
                per_order=settings.lookup_attempts_per_order,
                window=timedelta(seconds=settings.lookup_window_s),
            ),
            key=bucket_key(secret_values(settings.customer_link_secrets)[0]),
        ),
    )
    return Wiring(
        subscriptions=handlers.subscriptions(configuration.clock),
        routers=(handlers.build_router(pages),),
        background=(views.loop(),),
        closers=(page_pool.close,),
    )
