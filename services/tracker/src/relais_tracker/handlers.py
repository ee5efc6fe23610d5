"""The tracker's consumers and HTTP routes: decode, call the domain, persist, enqueue.

- merchant orders (one per transaction, ReliableConsumer): the order and its
  shipments (one per parcel) are stored; carrier events held for the parcels'
  tracking numbers are reconciled; changed shipments are published;
- carrier updates (batches, BatchConsumer): each payload is normalized by its
  carrier's adapter (an aggregator's or the generic format's events carry the real
  carrier they name), events are matched to shipments by tracking number and a
  compatible carrier (domain.shipments.compatible_carriers) or held until their order
  arrives, recorded once (a re-send is ignored), and each changed shipment's state is
  published once per batch;
- everything published goes through the outbox, in the transaction of the change.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from aiolimiter import AsyncLimiter

from relais_contracts.envelope import UNKNOWN_MERCHANT, Event
from relais_contracts.registry import Topic
from relais_contracts.topics import carrier_updates, orders
from relais_contracts.topics import shipment_state as shipment_state_topic
from relais_contracts.topics import tracking_events as tracking_events_topic
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, PayloadEncoding
from relais_contracts.topics.shipment_state import ShipmentStateChanged, StateChangeCause
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.clock import Clock, clock_from_spec
from relais_runtime.consumer import (
    BatchSubscription,
    MessageContext,
    PermanentError,
    Prepared,
    Subscription,
)
from relais_runtime.db import DbConnection
from relais_runtime.kafka import encode_event
from relais_runtime.merchants import MerchantConfig, MerchantConfigError, load_merchants
from relais_runtime.metrics import TRACKING_EVENTS
from relais_runtime.service import Dependencies, Wiring
from relais_runtime.settings import ConfigurationError
from relais_runtime.supervisor import Loop
from relais_tracker import carriers, domain, repository
from relais_tracker.carriers.base import PayloadError
from relais_tracker.domain.shipments import (
    NO_PROGRESS,
    CarrierEvent,
    Cause,
    Progress,
    ShipmentBase,
    advance,
    bases_of,
    cancelled,
    carrier_event_from,
    carrier_event_of_record,
    compatible_carriers,
    progress_of,
    shipment_state,
    tracking_event_recorded,
)
from relais_tracker.ingestion.auth import WebhookAuthenticator
from relais_tracker.ingestion.orders_api import orders_router
from relais_tracker.ingestion.polling import HttpCarrierPoller, PollingLoop, PollRetry
from relais_tracker.ingestion.webhooks import webhooks_router
from relais_tracker.repository import ShipmentKey, ShipmentRow, ShipmentWrite, TrackingKey
from relais_tracker.settings import TrackerSettings

ORDERS_GROUP = "tracker.orders"
CARRIER_UPDATES_GROUP = "tracker.carrier-updates"


Encoded = tuple[TrackingEventRecorded, bytes]
"""A tracking event and its JSON, encoded once for its table row and its outbox row."""


@dataclass(frozen=True)
class Topics:
    """The tracker's topics, renamed by `topic_overrides` (benchmarks, isolated runs)."""

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
            tracking_events=named(tracking_events_topic.TOPIC),
            shipment_state=named(shipment_state_topic.TOPIC),
        )


@dataclass(frozen=True)
class Change:
    """A shipment's new facts; `previous` is its stored row (None: a new shipment)."""

    key: ShipmentKey
    base: ShipmentBase
    progress: Progress
    previous: ShipmentRow | None
    cause: Cause


def _payload_bytes(update: CarrierUpdateReceived) -> bytes:
    if update.encoding is PayloadEncoding.BASE64:
        return base64.b64decode(update.payload)
    return update.payload.encode()


def normalize(update: CarrierUpdateReceived) -> list[CarrierEvent]:
    """The update's events; PermanentError (dead-letter) when its payload cannot be read."""
    adapter = carriers.adapter_for(update.carrier)
    if adapter is None:
        raise PermanentError(f"no adapter for carrier {update.carrier!r}")
    try:
        normalized = adapter.parse(_payload_bytes(update))
    except PayloadError as error:
        raise PermanentError(f"{update.carrier} payload: {error}") from None
    carriers.record_unknown_codes(normalized, carrier=adapter.carrier)
    return [
        carrier_event_from(
            event,
            carrier=event.carrier or adapter.carrier,
            source=update.source,
            carrier_update_id=update.event_id,
        )
        for event in normalized
    ]


class ShipmentRecorder:
    """Applies orders and carrier updates to shipments; publishes through the outbox."""

    def __init__(self, *, topics: Topics, clock: Clock) -> None:
        self.topics = topics
        self.clock = clock

    # -- orders -----------------------------------------------------------------

    async def on_order_event(self, event: Event, context: MessageContext) -> None:
        if not isinstance(event, orders.OrderPlaced | orders.OrderUpdated | orders.OrderCancelled):
            raise PermanentError(f"unexpected {event.event_type} on {orders.TOPIC.name}")
        connection = context.connection
        record = domain.order_record_from(event)
        stored_as_of = await repository.get_order_as_of(
            connection, merchant_id=record.merchant_id, order_id=record.order_id
        )
        if not domain.supersedes(incoming=record, stored_as_of=stored_as_of):
            return
        await repository.update_order(connection, record=record)
        if isinstance(event, orders.OrderCancelled):
            await self._cancel_order(connection, event)
        else:
            await self._apply_order(connection, event)

    async def _cancel_order(self, connection: DbConnection, event: orders.OrderCancelled) -> None:
        cause = Cause(StateChangeCause.ORDER_CANCELLED, event.event_id, event.occurred_at)
        rows = await repository.list_shipments(
            connection, merchant_id=event.merchant_id, order_id=event.order_id
        )
        changes = [
            Change(row.key, cancelled(row.base), row.progress, row, cause)
            for row in rows
            if row.order_id == event.order_id
        ]
        await self._publish(connection, changes=changes, records=[], whole_rows=True)

    async def _apply_order(
        self, connection: DbConnection, order: orders.OrderPlaced | orders.OrderUpdated
    ) -> None:
        merchant_id = order.merchant_id
        kind = (
            StateChangeCause.ORDER_PLACED
            if isinstance(order, orders.OrderPlaced)
            else StateChangeCause.ORDER_UPDATED
        )
        cause = Cause(kind, order.event_id, order.occurred_at)
        bases = bases_of(order)
        await repository.lock_tracking_keys(
            connection, keys=[base.tracking[1] for base in bases.values() if base.tracking]
        )
        rows = {
            row.shipment_id: row
            for row in await repository.list_shipments(
                connection, merchant_id=merchant_id, order_id=order.order_id, shipment_ids=[*bases]
            )
        }
        targets = [
            (shipment_id, cancelled(row.base), row)
            for shipment_id, row in rows.items()
            if shipment_id not in bases and row.order_id == order.order_id
        ] + [(shipment_id, base, rows.get(shipment_id)) for shipment_id, base in bases.items()]

        held: list[TrackingEventRecorded] = []
        for shipment_id, base, _row in targets:
            if base.tracking is None or base.cancelled:
                continue
            taken = await repository.delete_pending_events(
                connection,
                tracking=base.tracking,
                merchant_id=merchant_id,
                unknown_merchant=UNKNOWN_MERCHANT,
            )
            held += [
                tracking_event_recorded(
                    event,
                    merchant_id=merchant_id,
                    shipment_id=shipment_id,
                    order_id=order.order_id,
                    produced_at=self.clock.now(),
                )
                for event in _distinct(taken)
            ]
        records = await self._record(connection, held, outcome="reconciled")
        progress = await self._progress_after(
            connection,
            targets=[
                (
                    (merchant_id, shipment_id),
                    base,
                    _kept_progress(row, base),
                )
                for shipment_id, base, row in targets
            ],
            records=records,
        )
        changes = [
            Change(
                (merchant_id, shipment_id), base, progress[(merchant_id, shipment_id)], row, cause
            )
            for shipment_id, base, row in targets
        ]
        await self._publish(connection, changes=changes, records=records, whole_rows=True)

    # -- carrier updates ----------------------------------------------------------

    @staticmethod
    def prepare_carrier_update(event: Event) -> list[tuple[str, CarrierEvent]]:
        """Pure: the update's normalized events with the merchant the receiver knew."""
        if not isinstance(event, CarrierUpdateReceived):
            raise PermanentError(f"unexpected {event.event_type} on carrier updates")
        return [(event.merchant_id, carrier_event) for carrier_event in normalize(event)]

    async def on_carrier_updates(self, batch: Sequence[Prepared], connection: DbConnection) -> None:
        received: list[tuple[str, CarrierEvent]] = [pair for item in batch for pair in item.value]
        received = list(
            {(hint, event.event_id): (hint, event) for hint, event in received}.values()
        )
        keys = sorted({event.tracking_key for _, event in received})
        await repository.lock_tracking_keys(connection, keys=keys)
        following: dict[str, list[tuple[str, ShipmentRow]]] = {}
        for row in await repository.list_shipments_by_tracking(connection, keys=keys):
            if row.base.tracking is not None:
                carrier, key = row.base.tracking
                following.setdefault(key, []).append((carrier, row))

        now = self.clock.now()
        candidates: list[TrackingEventRecorded] = []
        unmatched: list[tuple[str, CarrierEvent]] = []
        rows: dict[ShipmentKey, ShipmentRow] = {}
        for hint, event in received:
            matches = [
                row
                for carrier, row in following.get(event.tracking_key, ())
                if hint in (UNKNOWN_MERCHANT, row.merchant_id)
                and compatible_carriers(event.carrier, carrier)
            ]
            if not matches:
                unmatched.append((hint, event))
            for row in matches:
                rows[row.key] = row
                candidates.append(
                    tracking_event_recorded(
                        event,
                        merchant_id=row.merchant_id,
                        shipment_id=row.shipment_id,
                        order_id=row.order_id,
                        produced_at=now,
                    )
                )
        await repository.create_pending_events(connection, events=unmatched, received_at=now)
        TRACKING_EVENTS.labels(outcome="held").inc(len(unmatched))
        records = await self._record(connection, candidates, outcome="recorded")
        touched = {(record.merchant_id, record.shipment_id) for record, _ in records}
        progress = await self._progress_after(
            connection,
            targets=[(key, rows[key].base, rows[key].progress) for key in touched],
            records=records,
        )
        latest = _latest_record_by_shipment(records)
        changes = [
            Change(
                key,
                rows[key].base,
                progress[key],
                rows[key],
                Cause(
                    StateChangeCause.TRACKING_EVENT, latest[key].event_id, latest[key].occurred_at
                ),
            )
            for key in sorted(touched)
        ]
        await self._publish(connection, changes=changes, records=records, whole_rows=False)

    # -- shared steps -------------------------------------------------------------

    async def _record(
        self, connection: DbConnection, candidates: list[TrackingEventRecorded], *, outcome: str
    ) -> list[Encoded]:
        """Record events once per shipment; returns the new ones with their JSON (re-sends
        are dropped)."""
        candidates = list(
            {(c.merchant_id, c.shipment_id, c.event_id): c for c in candidates}.values()
        )
        values = [encode_event(record) for record in candidates]
        inserted = await repository.create_tracking_events(
            connection, records=candidates, values=values
        )
        new = [
            (record, value)
            for record, value in zip(candidates, values, strict=True)
            if (record.merchant_id, record.shipment_id, record.event_id) in inserted
        ]
        TRACKING_EVENTS.labels(outcome=outcome).inc(len(new))
        TRACKING_EVENTS.labels(outcome="duplicate").inc(len(candidates) - len(new))
        return new

    async def _progress_after(
        self,
        connection: DbConnection,
        *,
        targets: Sequence[tuple[ShipmentKey, ShipmentBase, Progress | None]],
        records: Sequence[Encoded],
    ) -> dict[ShipmentKey, Progress]:
        """Each shipment's progress with its new events: advanced in place when they are
        newer than its latest event, else (or when `None` is given) folded again from its
        whole recorded history."""
        new_events: dict[ShipmentKey, list[CarrierEvent]] = {}
        for record, _value in records:
            new_events.setdefault((record.merchant_id, record.shipment_id), []).append(
                carrier_event_of_record(record)
            )
        result: dict[ShipmentKey, Progress] = {}
        refold: list[tuple[ShipmentKey, TrackingKey]] = []
        for key, base, previous in targets:
            advanced = advance(previous, new_events.get(key, ())) if previous is not None else None
            if advanced is not None:
                result[key] = advanced
            elif base.tracking is not None:
                refold.append((key, base.tracking))
            else:
                result[key] = NO_PROGRESS
        histories = await repository.list_tracking_events(connection, shipments=refold)
        for key, _tracking in refold:
            result[key] = progress_of(histories.get(key, []))
        return result

    async def _publish(
        self,
        connection: DbConnection,
        *,
        changes: Sequence[Change],
        records: Sequence[Encoded],
        whole_rows: bool,
    ) -> None:
        """Store and publish each shipment whose facts changed (version + 1), and the new
        tracking events, in the caller's transaction."""
        writes: list[ShipmentWrite] = []
        states: list[ShipmentStateChanged] = []
        now = self.clock.now()
        for change in changes:
            previous = change.previous
            if (
                previous is not None
                and _same(previous.base, change.base)
                and (_same(previous.progress, change.progress))
            ):
                continue
            version = (previous.version if previous else 0) + 1
            merchant_id, shipment_id = change.key
            state = shipment_state(
                merchant_id=merchant_id,
                shipment_id=shipment_id,
                base=change.base,
                progress=change.progress,
                version=version,
                cause=change.cause,
                produced_at=now,
            )
            states.append(state)
            writes.append(
                ShipmentWrite(
                    merchant_id=merchant_id,
                    shipment_id=shipment_id,
                    version=version,
                    base=change.base,
                    progress=change.progress,
                    status=state.status,
                    substatus=state.substatus,
                    final=state.final,
                )
            )
        if whole_rows:
            await repository.update_shipments(connection, writes=writes)
        else:
            await repository.update_progress(connection, writes=writes)
        await repository.create_outbox_rows(
            connection,
            topic=self.topics.tracking_events,
            events=[record for record, _ in records],
            values=[value for _, value in records],
        )
        await repository.create_outbox_rows(
            connection,
            topic=self.topics.shipment_state,
            events=states,
            values=[encode_event(state) for state in states],
        )


def _same(stored: object, new: object) -> bool:
    """Equal facts; the identity test first spares comparing every field of a carrier
    batch's bases, which are the very objects read from their rows."""
    return stored is new or stored == new


def _kept_progress(row: ShipmentRow | None, base: ShipmentBase) -> Progress | None:
    """The stored progress still valid for `base` (None: fold the history again)."""
    if row is None:
        return NO_PROGRESS
    return row.progress if row.base.tracking == base.tracking else None


def _distinct(events: Sequence[CarrierEvent]) -> list[CarrierEvent]:
    return list({event.event_id: event for event in events}.values())


def _latest_record_by_shipment(
    records: Sequence[Encoded],
) -> dict[ShipmentKey, TrackingEventRecorded]:
    latest: dict[ShipmentKey, TrackingEventRecorded] = {}
    for record, _value in records:
        key = (record.merchant_id, record.shipment_id)
        if key not in latest or record.occurred_at >= latest[key].occurred_at:
            latest[key] = record
    return latest


def load_merchant_directory(settings: TrackerSettings) -> dict[str, MerchantConfig]:
    if settings.merchants_dir is None:
        return {}
    try:
        return dict(load_merchants(Path(settings.merchants_dir)))
    except MerchantConfigError as error:
        raise ConfigurationError(str(error)) from None


def _tracker_settings(settings: object) -> TrackerSettings:
    if not isinstance(settings, TrackerSettings):
        raise ConfigurationError(
            f"the tracker needs TrackerSettings, got {type(settings).__name__}"
        )
    return settings


def wire(dependencies: Dependencies[TrackerSettings]) -> Wiring:
    settings = _tracker_settings(dependencies.settings)
    clock = clock_from_spec(settings.clock)
    now: Callable[[], datetime] = clock.now
    topics = Topics.of(settings.topic_overrides)
    merchants = load_merchant_directory(settings)
    recorder = ShipmentRecorder(topics=topics, clock=clock)
    background: list[Loop] = []
    if settings.poll_base_url is not None and settings.poll_carriers:
        polling = _polling_loop(settings, dependencies, topics, now)
        background.append(Loop("carrier-polling", polling.run))
    return Wiring(
        subscriptions=[
            BatchSubscription(
                topic=topics.carrier_updates,
                group_id=CARRIER_UPDATES_GROUP,
                handler=recorder.on_carrier_updates,
                prepare=recorder.prepare_carrier_update,
                max_records=settings.carrier_batch_max,
            ),
            Subscription(
                topic=topics.orders, group_id=ORDERS_GROUP, handler=recorder.on_order_event
            ),
        ],
        routers=[
            webhooks_router(
                producer=dependencies.producer,
                topic=topics.carrier_updates,
                authenticator=WebhookAuthenticator.of(
                    platform=settings.carrier_webhooks,
                    merchants=merchants,
                    tolerance_s=settings.webhook_signature_tolerance_s,
                ),
                max_body_bytes=settings.webhook_max_body_bytes,
                now=now,
            ),
            orders_router(
                producer=dependencies.producer,
                pool=dependencies.pool,
                topic=topics.orders,
                keys=ApiKeyRing.of(merchants),
                now=now,
            ),
        ],
        background=background,
    )


def _polling_loop(
    settings: TrackerSettings,
    dependencies: Dependencies[TrackerSettings],
    topics: Topics,
    now: Callable[[], datetime],
) -> PollingLoop:
    poller = HttpCarrierPoller(
        client=httpx.AsyncClient(timeout=settings.poll_timeout_s),
        base_url=str(settings.poll_base_url),
        limiter=AsyncLimiter(max_rate=settings.poll_rate_per_s, time_period=1.0),
        retry=PollRetry(
            max_attempts=settings.poll_max_attempts,
            backoff_initial_s=settings.poll_backoff_initial_s,
            backoff_max_s=settings.poll_backoff_max_s,
        ),
    )
    return PollingLoop(
        pool=dependencies.pool,
        producer=dependencies.producer,
        topic=topics.carrier_updates,
        poller=poller,
        carriers=settings.poll_carriers,
        interval=timedelta(seconds=settings.poll_interval_s),
        batch=settings.poll_batch,
        now=now,
        idle_s=min(settings.poll_interval_s, 5.0),
    )
