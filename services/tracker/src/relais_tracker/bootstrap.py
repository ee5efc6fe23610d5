"""Setting the tracker up: the one place that reads its settings, loads the merchants,
builds the clock and the clients, and wires the handlers to the application steps.

Rules:
- `configure` reads and validates everything that can be wrong in the configuration
  (merchant files, API keys, webhook secrets) without touching the network: a bad
  configuration stops start-up with ConfigurationError before anything runs;
- `wire` builds the application steps once and hands each consumer and router its own;
- topics are the registry's unless `topic_overrides` renames them (benchmarks,
  isolated test runs).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
from aiolimiter import AsyncLimiter
from fastapi import APIRouter

from relais_contracts.registry import Topic
from relais_contracts.topics import carrier_updates, orders, shipment_state, tracking_events
from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.clock import Clock
from relais_runtime.consumer import BatchSubscription
from relais_runtime.merchants import MerchantDirectory, merchants_of
from relais_runtime.service import Dependencies, ServiceSpec, Wiring
from relais_runtime.supervisor import Loop
from relais_tracker.adapters.carrier_poller import HttpCarrierPoller, PollRetry
from relais_tracker.adapters.pull import PullPoller, build_pull_clients
from relais_tracker.adapters.webhook_auth import WebhookAuthenticator
from relais_tracker.domain.polling import PollSchedule
from relais_tracker.handlers import (
    CarrierUpdateConsumer,
    OrderApi,
    OrderConsumer,
    WebhookIntake,
    orders_router,
    prepare_carrier_update,
    webhooks_router,
)
from relais_tracker.handlers.consumers import prepare_order
from relais_tracker.handlers.erasures_api import ErasureApi, erasures_router
from relais_tracker.service.carrier_events import CarrierEventRecorder
from relais_tracker.service.erasure import CustomerErasure
from relais_tracker.service.held_events import LOOP as HELD_EVENTS_LOOP
from relais_tracker.service.held_events import HeldEventExpiry
from relais_tracker.service.orders import OrderCancellation, OrderIntake, OrderShipments
from relais_tracker.service.polling import PollingLoop
from relais_tracker.service.publishing import ShipmentPublisher
from relais_tracker.settings import TrackerSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"

ORDERS_GROUP = "tracker.orders"
CARRIER_UPDATES_GROUP = "tracker.carrier-updates"
ORDER_BATCH_MAX = 100
"""Order events per transaction of the orders consumer (set-based, service.orders). With
`relais bench orders` 100, 200 and 500 persist the same ≈ 2,100 orders/s; 500 peaks 17 MB
higher (174 MB against 157), 50 is slower (1,815/s)."""


@dataclass(frozen=True)
class Topics:
    orders: Topic
    carrier_updates: Topic
    tracking_events: Topic
    shipment_state: Topic

    @classmethod
    def of(cls, overrides: dict[str, str]) -> Topics:
        def named(topic: Topic) -> Topic:
            return replace(topic, name=overrides[topic.name]) if topic.name in overrides else topic

        return cls(
            orders=named(orders.TOPIC),
            carrier_updates=named(carrier_updates.TOPIC),
            tracking_events=named(tracking_events.TOPIC),
            shipment_state=named(shipment_state.TOPIC),
        )


@dataclass(frozen=True)
class TrackerConfiguration:
    settings: TrackerSettings
    clock: Clock
    topics: Topics
    merchants: MerchantDirectory
    api_keys: ApiKeyRing
    webhook_authenticator: WebhookAuthenticator


def configure(settings: TrackerSettings) -> TrackerConfiguration:
    merchants = merchants_of(settings.merchants_dir)
    return TrackerConfiguration(
        settings=settings,
        clock=settings.build_clock(),
        topics=Topics.of(settings.topic_overrides),
        merchants=merchants,
        api_keys=ApiKeyRing.of(merchants),
        webhook_authenticator=WebhookAuthenticator.of(
            platform=settings.carrier_webhooks,
            merchants=merchants,
            tolerance_s=settings.webhook_signature_tolerance_s,
        ),
    )


def build_spec(configuration: TrackerConfiguration | None = None) -> ServiceSpec[TrackerSettings]:
    """Without a configuration, the service configures itself from the settings it is
    started with."""
    return ServiceSpec(
        name="tracker",
        schema="tracker",
        migrations_dir=MIGRATIONS_DIR,
        wire=partial(wire, configuration=configuration),
    )


def wire(
    dependencies: Dependencies[TrackerSettings],
    configuration: TrackerConfiguration | None = None,
) -> Wiring:
    configuration = configuration or configure(dependencies.settings)
    settings, topics = configuration.settings, configuration.topics
    publisher = ShipmentPublisher(
        tracking_events=topics.tracking_events,
        shipment_state=topics.shipment_state,
        clock=configuration.clock,
    )
    intake = OrderIntake(
        shipments=OrderShipments(publisher=publisher, clock=configuration.clock),
        cancellation=OrderCancellation(publisher=publisher),
    )
    recorder = CarrierEventRecorder(publisher=publisher, clock=configuration.clock)
    return Wiring(
        subscriptions=[
            BatchSubscription(
                topic=topics.carrier_updates,
                group_id=CARRIER_UPDATES_GROUP,
                handler=CarrierUpdateConsumer(recorder).handle,
                prepare=prepare_carrier_update,
                max_records=settings.carrier_batch_max,
            ),
            BatchSubscription(
                topic=topics.orders,
                group_id=ORDERS_GROUP,
                handler=OrderConsumer(intake).handle,
                prepare=prepare_order,
                max_records=ORDER_BATCH_MAX,
            ),
        ],
        routers=_routers(configuration, dependencies),
        background=[
            *_background(configuration, dependencies),
            _held_event_expiry(configuration, dependencies),
        ],
    )


def _routers(
    configuration: TrackerConfiguration, dependencies: Dependencies[TrackerSettings]
) -> list[APIRouter]:
    settings, topics, clock = configuration.settings, configuration.topics, configuration.clock
    return [
        webhooks_router(
            WebhookIntake(
                producer=dependencies.producer,
                topic=topics.carrier_updates,
                authenticator=configuration.webhook_authenticator,
                max_body_bytes=settings.webhook_max_body_bytes,
                now=clock.now,
            )
        ),
        orders_router(
            OrderApi(
                producer=dependencies.producer,
                pool=dependencies.pool,
                topic=topics.orders,
                keys=configuration.api_keys,
                now=clock.now,
            )
        ),
        erasures_router(
            ErasureApi(
                pool=dependencies.pool,
                keys=configuration.api_keys,
                erasure=customer_erasure(configuration),
            )
        ),
    ]


def customer_erasure(configuration: TrackerConfiguration) -> CustomerErasure:
    """The erasure step on this configuration's topics and clock (the API and
    `relais erase` share it)."""
    topics = configuration.topics
    return CustomerErasure(
        shipment_state=topics.shipment_state, orders=topics.orders, now=configuration.clock.now
    )


def _background(
    configuration: TrackerConfiguration, dependencies: Dependencies[TrackerSettings]
) -> list[Loop]:
    """Carrier polling, when carriers to poll are configured: those with a pull client
    (`pull_carriers`), and those of the generic poll API (`poll_base_url`)."""
    settings = configuration.settings
    poller = _poller(settings)
    if poller is None:
        return []
    schedule = _poll_schedule(settings)
    polling = PollingLoop(
        pool=dependencies.pool,
        producer=dependencies.producer,
        topic=configuration.topics.carrier_updates,
        poller=poller,
        carriers=_polled_carriers(settings),
        schedule=schedule,
        batch=settings.poll_batch,
        now=configuration.clock.now,
        idle_s=min(schedule.shortest.total_seconds(), 5.0),
    )
    return [Loop("carrier-polling", polling.run)]


def _polled_carriers(settings: TrackerSettings) -> tuple[str, ...]:
    generic = settings.poll_carriers if settings.poll_base_url is not None else ()
    return tuple(sorted({*settings.pull_carriers, *generic}))


def _poll_schedule(settings: TrackerSettings) -> PollSchedule:
    return PollSchedule(
        regular=timedelta(seconds=settings.poll_interval_s),
        out_for_delivery=timedelta(seconds=settings.poll_out_for_delivery_interval_s),
        promise_near=timedelta(seconds=settings.poll_promise_near_interval_s),
        promise_window_days=settings.poll_promise_window_days,
    )


def _poller(settings: TrackerSettings) -> PullPoller | None:
    """The carriers' own API clients, and the generic poller when a base URL is set;
    None when nothing is to be polled."""
    retry = PollRetry(
        max_attempts=settings.poll_max_attempts,
        backoff_initial_s=settings.poll_backoff_initial_s,
        backoff_max_s=settings.poll_backoff_max_s,
    )
    generic = None
    if settings.poll_base_url is not None and settings.poll_carriers:
        generic = HttpCarrierPoller(
            client=httpx.AsyncClient(timeout=settings.poll_timeout_s),
            base_url=str(settings.poll_base_url),
            limiter=AsyncLimiter(max_rate=settings.poll_rate_per_s, time_period=1.0),
            retry=retry,
        )
    if generic is None and not settings.pull_carriers:
        return None
    clients = build_pull_clients(
        settings.pull_carriers,
        retry=retry,
        http=lambda: httpx.AsyncClient(timeout=settings.poll_timeout_s),
        max_wait_s=settings.poll_max_wait_s,
    )
    return PullPoller(clients, fallback=generic)


def _held_event_expiry(
    configuration: TrackerConfiguration, dependencies: Dependencies[TrackerSettings]
) -> Loop:
    """Events held without an order are deleted once `held_event_ttl_s` old."""
    settings = configuration.settings
    expiry = HeldEventExpiry(
        pool=dependencies.pool,
        ttl=timedelta(seconds=settings.held_event_ttl_s),
        batch=settings.held_event_sweep_batch,
        now=configuration.clock.now,
        idle_s=settings.held_event_sweep_interval_s,
    )
    return Loop(HELD_EVENTS_LOOP, expiry.run)
