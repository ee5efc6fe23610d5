"""Build the insights service once at start: its configuration, then its wiring.

Rules:
- `configure` is the only place that reads the settings; it reads the merchant files
  and validates them (a bad merchant file or a key on two merchants stops start-up with
  ConfigurationError, before anything starts) and makes no network call;
- `wire` builds the application on the runtime's pool and hands the runtime its
  consumers, routes and the gauges' loop.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

from relais_insights.domain.order_filters import CursorCodec
from relais_insights.handlers.consumers import TopicMap, same_topic, subscriptions
from relais_insights.handlers.routes import build_router
from relais_insights.service import gauges
from relais_insights.service.application import Insights
from relais_insights.service.configuration import InsightsConfiguration
from relais_insights.service.office_users import OfficePolicy
from relais_insights.service.rebuild import SCHEMA
from relais_insights.service.sessions import DashboardSessions
from relais_insights.settings import InsightsSettings
from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.links import LinkSigner
from relais_runtime.merchants import merchants_of
from relais_runtime.service import Dependencies, ServiceSpec, Wiring
from relais_runtime.settings import secret_values
from relais_runtime.supervisor import Loop

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def configure(settings: InsightsSettings) -> InsightsConfiguration:
    merchants = merchants_of(settings.merchants_dir)
    clock = settings.build_clock()
    max_age = timedelta(hours=settings.session_hours)
    return InsightsConfiguration(
        merchants=merchants,
        keys=ApiKeyRing.of(merchants),
        sessions=DashboardSessions(
            signer=LinkSigner(secrets=secret_values(settings.session_secrets), max_age=max_age),
            clock=clock,
            max_age=max_age,
            secure_cookies=settings.secure_cookies,
        ),
        clock=clock,
        metrics_refresh_s=settings.metrics_refresh_s,
        metrics_window_days=settings.metrics_window_days,
        office=OfficePolicy(
            idle=timedelta(minutes=settings.office_idle_minutes),
            absolute=timedelta(hours=settings.office_session_hours),
            secure_cookies=settings.secure_cookies or settings.environment != "development",
        ),
        cursors=CursorCodec(secret_values(settings.session_secrets)),
        notifier_url=str(settings.notifier_url).rstrip("/") if settings.notifier_url else None,
    )


def build_spec(
    configuration: InsightsConfiguration | None = None,
) -> ServiceSpec[InsightsSettings]:
    return ServiceSpec(
        name="insights",
        schema=SCHEMA,
        migrations_dir=MIGRATIONS_DIR,
        wire=partial(wire, configuration=configuration),
    )


def wire(
    dependencies: Dependencies[InsightsSettings],
    *,
    configuration: InsightsConfiguration | None = None,
    topic_map: TopicMap = same_topic,
) -> Wiring:
    if configuration is None:
        configuration = configure(dependencies.settings)
    pool = dependencies.pool
    return Wiring(
        subscriptions=subscriptions(topic_map),
        routers=(build_router(Insights(configuration=configuration, pool=pool)),),
        background=(
            Loop(
                gauges.LOOP,
                gauges.metrics_refresher(pool=pool, configuration=configuration),
                heartbeat_s=max(120.0, 4 * configuration.metrics_refresh_s),
            ),
        ),
    )
