"""The scenario corpus: parcel stories as data, and what each becomes on the wire.

A story (tests/corpus/*.yaml) is an order, its carrier's tracking events with their
times, the merchant's and the actions' inputs, and what the detector must decide:
the anomaly types opened (with repeats for new occurrences), how each ended
(`resolved`, else still open), the types escalated and the milestones reached.

Times are written `D<day> HH:MM` in the customer's time zone, days counted from the
order's day; every story starts on the same day, so the whole corpus shares one
timeline and replays concurrently. `inputs()` folds the events into the
ShipmentStateChanged snapshots a tracker publishes (version, status since, shipped,
delivered, failed attempts, estimate, pickup hold deadline...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import yaml

from relais_contracts.actions import ActionType
from relais_contracts.catalogue import AnomalyType, Milestone, ResolutionReason
from relais_contracts.common import (
    CustomerContact,
    Delivery,
    DeliveryMode,
    Money,
    PickupPoint,
    PickupPointKind,
    PostalAddress,
)
from relais_contracts.envelope import Event
from relais_contracts.ids import anomaly_id, derived_id, tracking_event_id
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, UpdateSource
from relais_contracts.topics.orders import OrderCancelled, OrderPlaced, OrderUpdated, Parcel
from relais_contracts.topics.shipment_state import (
    LastTrackingEvent,
    ShipmentStateChanged,
    StateChangeCause,
)
from relais_contracts.tracking import (
    DeliveryEstimate,
    Incident,
    IncidentReason,
    Substatus,
    TrackingStatus,
    is_final,
    status_of,
)

CORPUS_DIR = Path(__file__).parent
GENERIC_CARRIER = "generic"
"""The carrier of the tracker-driven replay: the generic Relais format carries a story's
normalized events as they are written; each carrier's own format is the adapters'
business (tests/unit/tracker)."""
FIRST_DAY = date(2026, 11, 2)
"""D0 of every story (a Monday)."""

MERCHANT_ZONES = {"maison-lumiere": "Europe/Paris", "velocity-sports": "Europe/London"}
_MOMENT = re.compile(r"^D(\d+)(?: (\d\d):(\d\d))?$")


def moment(text: str, zone: str) -> datetime:
    """`D3 14:05` in `zone`, as an aware UTC datetime; `D3` is midnight."""
    match = _MOMENT.match(str(text).strip())
    if match is None:
        raise ValueError(f"bad story time {text!r}: write D<day> HH:MM")
    day, hours, minutes = match.groups()
    local = datetime.combine(
        FIRST_DAY + timedelta(days=int(day)),
        time(int(hours or 0), int(minutes or 0)),
        tzinfo=ZoneInfo(zone),
    )
    return local.astimezone(UTC)


def day_of(text: str) -> date:
    match = _MOMENT.match(str(text).strip())
    if match is None:
        raise ValueError(f"bad story day {text!r}: write D<day>")
    return FIRST_DAY + timedelta(days=int(match.group(1)))


@dataclass(frozen=True)
class Expected:
    anomalies: tuple[AnomalyType, ...]
    resolved: dict[AnomalyType, ResolutionReason]
    escalated: frozenset[AnomalyType]
    milestones: frozenset[Milestone]


@dataclass(frozen=True)
class Story:
    story_id: str
    carrier: str
    raw: dict[str, Any] = field(repr=False)
    expected: Expected
    until: datetime

    @property
    def merchant_id(self) -> str:
        return str(self.raw["merchant"])

    @property
    def zone(self) -> str:
        return str(self.raw.get("tz", MERCHANT_ZONES[self.merchant_id]))

    def shipment_id(self, run: str) -> str:
        return f"{self.story_id}.{run}"


def load_stories(directory: Path = CORPUS_DIR) -> list[Story]:
    stories: list[Story] = []
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for raw in document["stories"]:
            stories.append(_story(document["carrier"], raw))
    ids = [story.story_id for story in stories]
    if len(set(ids)) != len(ids):
        raise ValueError("two stories share an id")
    return stories


def _story(carrier: str, raw: dict[str, Any]) -> Story:
    expect = raw.get("expect", {})
    zone = raw.get("tz", MERCHANT_ZONES[raw["merchant"]])
    return Story(
        story_id=raw["id"],
        carrier=carrier,
        raw=raw,
        expected=Expected(
            anomalies=tuple(AnomalyType(kind) for kind in expect.get("anomalies", [])),
            resolved={
                AnomalyType(kind): ResolutionReason(reason)
                for kind, reason in (expect.get("resolved") or {}).items()
            },
            escalated=frozenset(AnomalyType(kind) for kind in expect.get("escalated", [])),
            milestones=frozenset(Milestone(m) for m in expect.get("milestones", [])),
        ),
        until=moment(raw["until"], zone),
    )


@dataclass(frozen=True)
class Input:
    """One message of a story, due on the wire at `at`."""

    at: datetime
    event: Event


def _delivery(story: Story) -> Delivery:
    # Clearly fake test addresses; the detector never stores them.
    home = PostalAddress(
        name="Test Customer",
        line1="1 rue de l'Exemple",
        postal_code="75001",
        city="Paris",
        country="FR",
    )
    if story.raw.get("delivery", "home") == "home":
        return Delivery(mode=DeliveryMode.HOME, address=home)
    point = PickupPoint(
        point_id="PT-0042",
        network=story.carrier,
        kind=PickupPointKind.RELAY,
        name="Relais Test",
        address=home.model_copy(update={"name": None}),
        hold_days=int(story.raw.get("hold_days", 10)),
    )
    return Delivery(mode=DeliveryMode.PICKUP_POINT, pickup_point=point)


def inputs(story: Story, *, run: str, through_tracker: bool = False) -> list[Input]:
    """The story's messages, in time order, with its action results: the shipment states
    a tracker publishes or, `through_tracker`, what the tracker consumes (the order and
    its updates, and each carrier event as a CarrierUpdateReceived in the generic Relais
    format, on the `generic` carrier)."""
    fold = _Fold(story, run)
    found = list(fold.tracker_inputs() if through_tracker else fold.states())
    for at_text, kind in story.raw.get("actions", []):
        at = moment(at_text, story.zone)
        found.append(Input(at, fold.action_completed(AnomalyType(kind), at)))
    return sorted(found, key=lambda item: item.at)


class _Fold:
    """The tracker's fold of order and carrier events into shipment state snapshots, and
    the tracker's own inputs for the same story."""

    def __init__(self, story: Story, run: str) -> None:
        self.story = story
        self.zone = story.zone
        self.shipment_id = story.shipment_id(run)
        number = derived_id("corpus-tracking-number", self.shipment_id).int % 10**10
        self.tracking_number = f"{story.carrier[:2].upper()}{number:010d}"

    def _t(self, text: str) -> datetime:
        return moment(text, self.zone)

    def states(self) -> Iterator[Input]:
        raw = self.story.raw
        placed = self._t(raw.get("placed", "D0 09:00"))
        state = ShipmentStateChanged(
            event_id=derived_id("corpus-state", self.shipment_id, "1"),
            occurred_at=placed,
            produced_at=placed,
            merchant_id=self.story.merchant_id,
            correlation_id=self.shipment_id,
            shipment_id=self.shipment_id,
            version=1,
            cause=StateChangeCause.ORDER_PLACED,
            cause_event_id=derived_id("corpus-order", self.shipment_id),
            order_id=f"order-{self.shipment_id}",
            order_number=self.order_number,
            placed_at=placed,
            order_value=self.order_value,
            status=status_of(Substatus.AWAITING_SHIPMENT),
            substatus=Substatus.AWAITING_SHIPMENT,
            status_since=placed,
            final=False,
            promised_ship_by=self._t(raw["ship_by"]) if "ship_by" in raw else None,
            promised_delivery_by=day_of(raw["promised_by"]) if "promised_by" in raw else None,
            delivery=_delivery(self.story),
            customer=self.customer,
        )
        yield Input(placed, state)
        changes = [(self._t(e["at"]), "event", e) for e in raw.get("events", [])]
        if "shipped" in raw:
            changes.append((self._t(raw["shipped"]), "shipped", {}))
        if "cancelled" in raw:
            changes.append((self._t(raw["cancelled"]), "cancelled", {}))
        for at, kind, entry in sorted(changes, key=lambda change: change[0]):
            state = self._next(state, at, kind, entry)
            yield Input(at, state)

    def tracker_inputs(self) -> Iterator[Input]:
        raw = self.story.raw
        placed = self._t(raw.get("placed", "D0 09:00"))
        shipped_later = "shipped" in raw
        tracked = bool(raw.get("events")) and not shipped_later
        yield Input(placed, self._order(OrderPlaced, placed, tracked=tracked, shipped_at=None))
        if shipped_later:
            at = self._t(raw["shipped"])
            yield Input(at, self._order(OrderUpdated, at, tracked=True, shipped_at=at))
        if "cancelled" in raw:
            at = self._t(raw["cancelled"])
            yield Input(
                at,
                OrderCancelled(
                    event_id=derived_id("corpus-order-cancel", self.shipment_id),
                    occurred_at=at,
                    produced_at=at,
                    merchant_id=self.story.merchant_id,
                    correlation_id=self.order_id,
                    order_id=self.order_id,
                ),
            )
        for entry in raw.get("events", []):
            at = self._t(entry["at"])
            yield Input(at, self._carrier_update(entry, at))

    @property
    def order_id(self) -> str:
        return f"order-{self.shipment_id}"

    def _order(
        self,
        kind: type[OrderPlaced] | type[OrderUpdated],
        at: datetime,
        *,
        tracked: bool,
        shipped_at: datetime | None,
    ) -> OrderPlaced | OrderUpdated:
        raw = self.story.raw
        return kind(
            event_id=derived_id("corpus-order", self.shipment_id, kind.__name__),
            occurred_at=at,
            produced_at=at,
            merchant_id=self.story.merchant_id,
            correlation_id=self.order_id,
            order_id=self.order_id,
            order_number=self.order_number,
            placed_at=self._t(raw.get("placed", "D0 09:00")),
            customer=self.customer,
            delivery=_delivery(self.story),
            promised_ship_by=self._t(raw["ship_by"]) if "ship_by" in raw else None,
            promised_delivery_by=day_of(raw["promised_by"]) if "promised_by" in raw else None,
            order_value=self.order_value,
            parcels=(
                Parcel(
                    shipment_id=self.shipment_id,
                    carrier=GENERIC_CARRIER if tracked else None,
                    tracking_number=self.tracking_number if tracked else None,
                    shipped_at=shipped_at,
                ),
            ),
        )

    def _carrier_update(self, entry: dict[str, Any], at: datetime) -> CarrierUpdateReceived:
        event: dict[str, Any] = {
            "occurred_at": at.isoformat(),
            "substatus": entry["sub"],
            "carrier_code": entry["code"],
            "description": entry.get("text", entry["sub"]),
        }
        if "incident" in entry:
            event["incident"] = {"reason": entry["incident"]}
        if "estimate" in entry:
            event["estimated_delivery"] = {"day": day_of(entry["estimate"]).isoformat()}
        payload = {"tracking_number": self.tracking_number, "events": [event]}
        return CarrierUpdateReceived(
            event_id=derived_id("corpus-carrier-update", self.shipment_id, at.isoformat()),
            occurred_at=at,
            produced_at=at,
            merchant_id=self.story.merchant_id,
            correlation_id=self.tracking_number,
            carrier=GENERIC_CARRIER,
            source=UpdateSource.WEBHOOK,
            received_at=at,
            content_type="application/json",
            payload=json.dumps(payload),
            tracking_number=self.tracking_number,
        )

    @property
    def order_number(self) -> str:
        return f"#{derived_id('corpus-order-number', self.shipment_id).int % 10**5:05d}"

    @property
    def order_value(self) -> Money:
        return Money(amount=Decimal(str(self.story.raw.get("value", "59.90"))), currency="EUR")

    @property
    def customer(self) -> CustomerContact:
        return CustomerContact(email="customer@example.com", locale="fr", time_zone=self.zone)

    def _next(
        self, state: ShipmentStateChanged, at: datetime, kind: str, entry: dict[str, Any]
    ) -> ShipmentStateChanged:
        version = state.version + 1
        update: dict[str, Any] = {
            "event_id": derived_id("corpus-state", self.shipment_id, str(version)),
            "version": version,
            "occurred_at": at,
            "produced_at": at,
            "carrier": self.story.carrier,
            "tracking_number": self.tracking_number,
        }
        if kind == "shipped":
            update |= {
                "cause": StateChangeCause.ORDER_UPDATED,
                "cause_event_id": derived_id("corpus-order-update", self.shipment_id, "shipped"),
                "shipped_at": min(filter(None, [state.shipped_at, at])),
            }
            if state.last_event is None:
                update |= {"status": status_of(Substatus.PENDING_UNSPECIFIED)}
                update |= {"substatus": Substatus.PENDING_UNSPECIFIED, "status_since": at}
            return state.model_copy(update=update)
        if kind == "cancelled":
            update |= {
                "cause": StateChangeCause.ORDER_CANCELLED,
                "cause_event_id": derived_id("corpus-order-cancel", self.shipment_id),
                "cancelled": True,
                "final": True,
            }
            return state.model_copy(update=update)
        return self._tracked(state, at, entry, update)

    def _tracked(
        self,
        state: ShipmentStateChanged,
        at: datetime,
        entry: dict[str, Any],
        update: dict[str, Any],
    ) -> ShipmentStateChanged:
        substatus = Substatus(entry["sub"])
        status = status_of(substatus)
        event_id: UUID = tracking_event_id(
            self.story.carrier, self.tracking_number, entry["code"], at
        )
        handed_over = status.value not in {"pending", "info_received"}
        incident = Incident.of(IncidentReason(entry["incident"])) if "incident" in entry else None
        status_since = state.status_since if state.status is status else at
        estimate = state.estimated_delivery
        if "estimate" in entry:
            estimate = DeliveryEstimate(day=day_of(entry["estimate"]))
        update |= {
            "cause": StateChangeCause.TRACKING_EVENT,
            "cause_event_id": event_id,
            "status": status,
            "substatus": substatus,
            "incident": incident,
            "status_since": status_since,
            "last_event": LastTrackingEvent(
                event_id=event_id,
                occurred_at=at,
                status=status,
                substatus=substatus,
                carrier_code=entry["code"],
                description=entry.get("text", substatus.value),
            ),
            "shipped_at": state.shipped_at or (at if handed_over else None),
            "delivered_at": state.delivered_at or (at if status.value == "delivered" else None),
            "failed_attempts": state.failed_attempts + (status.value == "failed_attempt"),
            "final": is_final(substatus),
            "estimated_delivery": estimate,
            "pickup_hold_deadline": self._hold_deadline(status, status_since),
        }
        # model_copy skips validation: validate the whole snapshot as a producer would.
        return ShipmentStateChanged.model_validate(state.model_copy(update=update).model_dump())

    def _hold_deadline(self, status: TrackingStatus, since: datetime) -> datetime | None:
        """As the tracker sets it: the chosen pickup point's hold days from the arrival;
        unknown for a depot holding a home delivery."""
        point = _delivery(self.story).pickup_point
        if status is not TrackingStatus.AVAILABLE_FOR_PICKUP or point is None:
            return None
        return since + timedelta(days=point.hold_days) if point.hold_days else None

    def action_completed(self, kind: AnomalyType, at: datetime) -> ActionCompleted:
        anomaly = anomaly_id(self.story.merchant_id, self.shipment_id, kind.value, 1)
        return ActionCompleted(
            event_id=derived_id("corpus-action-result", str(anomaly)),
            occurred_at=at,
            produced_at=at,
            merchant_id=self.story.merchant_id,
            correlation_id=self.shipment_id,
            shipment_id=self.shipment_id,
            action_id=derived_id("corpus-action", str(anomaly)),
            action=ActionType.REDELIVERY if kind.value == "failed_attempt" else ActionType.RESHIP,
            order_id=f"order-{self.shipment_id}",
            order_number="#00001",
            automatic=False,
            anomaly_id=anomaly,
            anomaly_type=kind,
            attempts=1,
        )
