"""A known stream of facts for one merchant, with the figures it must give.

Period: 2026-03-02 .. 2026-03-04 (Europe/Paris).
- 4 parcels placed in the period (p1..p4), 1 placed before (p0), 1 after (p9);
- anomalies in the period: a1 failed_attempt on p1 (colissimo), a2 delivery_late on
  p2 (dhl), a3 lost on p3 (colissimo); a0 on p0 before the period (not in cohort);
- told: a1 after 10 min (and a second message later), a2 after 30 min, a3 never;
  a0's message is in the period but a0 is not in the cohort;
- a1: chat opened, resolution redelivery chosen, action completed, resolved 5 h after;
  a2: chat opened, callback requested, abandoned? no: resolved by the facts 25 h after;
  a3: automatic reship completed, then ActionFailed escalated for a refund;
- surveys: 5 (comment), 4, 2 (comment) in the period, 1 after it;
- tracking page views: 3 in the period (p1 twice, p2), 5 orders placed in the period;
- deliveries in the period: p1 on time first attempt (colissimo, FR-75), p2 late after
  one failed attempt (dhl, FR-69), p4 without promise (colissimo, FR-75).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from relais_insights.domain.facts import Fact, ShipmentFact
from relais_insights.domain.period import Period

PARIS = ZoneInfo("Europe/Paris")
PERIOD = Period(start=date(2026, 3, 2), end=date(2026, 3, 4), time_zone="Europe/Paris")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=PARIS)


def uid(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, name)


_counter = iter(range(10_000))


def fact(
    kind: str, shipment: str, moment: datetime, ref: str | None = None, **detail: object
) -> Fact:
    return Fact(
        event_id=uid(f"event-{next(_counter)}"),
        kind=kind,
        shipment_id=shipment,
        occurred_at=moment,
        ref_id=uid(ref) if ref else None,
        detail={
            k: (str(uid(v)) if k in ("anomaly_id", "trigger_ref") else v) for k, v in detail.items()
        },
    )


def sent(shipment: str, moment: datetime, anomaly: str, kind: str = "anomaly") -> Fact:
    return fact(
        "notification_sent",
        shipment,
        moment,
        f"n-{moment.isoformat()}",
        channel="email",
        trigger_kind=kind,
        trigger_ref=anomaly,
        trigger_name="x",
    )


def facts() -> list[Fact]:
    return [
        fact("order_placed", "o0", at(1, 9), parcels=1),
        *(fact("order_placed", f"o{n}", at(2, 9 + n), parcels=1) for n in range(1, 5)),
        fact("order_placed", "o5", at(4, 23, 30), parcels=1),
        fact("order_placed", "o9", at(5, 9), parcels=1),
        fact("anomaly_detected", "p0", at(1, 23), "a0", anomaly_type="stalled", carrier="dhl"),
        sent("p0", at(2, 8), "a0"),
        fact(
            "anomaly_detected",
            "p1",
            at(2, 14),
            "a1",
            anomaly_type="failed_attempt",
            carrier="colissimo",
        ),
        sent("p1", at(2, 14, 10), "a1"),
        sent("p1", at(3, 9), "a1", kind="anomaly_escalation"),
        fact(
            "conversation_started",
            "p1",
            at(2, 15),
            "c1",
            purpose="anomaly",
            anomaly_id="a1",
            entry="email_link",
        ),
        fact(
            "resolution_chosen",
            "p1",
            at(2, 15, 5),
            "c1",
            anomaly_id="a1",
            outcome="execute_action",
            action="redelivery",
        ),
        fact(
            "action_completed",
            "p1",
            at(2, 16),
            "act1",
            action="redelivery",
            automatic=False,
            anomaly_id="a1",
        ),
        fact(
            "anomaly_resolved",
            "p1",
            at(2, 19),
            "a1",
            anomaly_type="failed_attempt",
            reason="action_completed",
        ),
        fact(
            "anomaly_detected", "p2", at(3, 10), "a2", anomaly_type="delivery_late", carrier="dhl"
        ),
        sent("p2", at(3, 10, 30), "a2"),
        fact(
            "anomaly_escalated",
            "p2",
            at(3, 20),
            "a2",
            anomaly_type="delivery_late",
            level=1,
            reason="unresolved_timeout",
        ),
        fact(
            "conversation_started",
            "p2",
            at(3, 11),
            "c2",
            purpose="anomaly",
            anomaly_id="a2",
            entry="sms_link",
        ),
        fact("callback_requested", "p2", at(3, 11, 5), "c2", anomaly_id="a2"),
        fact(
            "anomaly_resolved",
            "p2",
            at(4, 11),
            "a2",
            anomaly_type="delivery_late",
            reason="facts_changed",
        ),
        fact("anomaly_detected", "p3", at(4, 8), "a3", anomaly_type="lost", carrier="colissimo"),
        fact(
            "action_completed",
            "p3",
            at(4, 8, 1),
            "act3",
            action="reship",
            automatic=True,
            anomaly_id="a3",
        ),
        fact(
            "action_failed",
            "p3",
            at(4, 9),
            "act4",
            action="refund",
            automatic=False,
            anomaly_id="a3",
            reason="merchant_rejected",
            escalated=True,
        ),
        fact("conversation_started", "p4", at(4, 9), "c4", purpose="survey", entry="email_link"),
        fact("conversation_abandoned", "p4", at(4, 10), "c4", reason="idle_timeout"),
        fact("survey_answered", "p1", at(3, 9), "s1", csat=5, comment="Parfait", locale="fr"),
        fact("survey_answered", "p4", at(4, 12), "s4", csat=4, locale="fr"),
        fact("survey_answered", "p2", at(4, 18), "s2", csat=2, comment="Trop tard", locale="fr"),
        fact("survey_answered", "p9", at(5, 9), "s9", csat=1, comment="After", locale="fr"),
        fact("tracking_page_viewed", "p1", at(2, 12), entry="email_link"),
        fact("tracking_page_viewed", "p1", at(3, 12), entry="email_link"),
        fact("tracking_page_viewed", "p2", at(3, 13), entry="sms_link"),
        fact("tracking_page_viewed", "p9", at(5, 13), entry="sms_link"),
    ]


def parcel(name: str, placed: datetime, **values: object) -> ShipmentFact:
    fields: dict[str, object] = {
        "shipment_id": name,
        "version": 3,
        "carrier": "colissimo",
        "country": "FR",
        "region": "FR-75",
        "placed_at": placed,
    }
    fields.update(values)
    return ShipmentFact(**fields)  # type: ignore[arg-type]


def shipments() -> list[ShipmentFact]:
    return [
        parcel("p0", at(1, 9)),
        parcel(
            "p1",
            at(2, 10),
            shipped_at=at(2, 12),
            delivered_at=at(3, 12),
            delivered_day=date(2026, 3, 3),
            promised_delivery_by=date(2026, 3, 4),
        ),
        parcel(
            "p2",
            at(2, 11),
            carrier="dhl",
            region="FR-69",
            shipped_at=at(2, 12),
            delivered_at=at(4, 11),
            delivered_day=date(2026, 3, 4),
            promised_delivery_by=date(2026, 3, 3),
            failed_attempts=1,
        ),
        parcel("p3", at(2, 12)),
        parcel(
            "p4",
            at(2, 13),
            shipped_at=at(2, 14),
            delivered_at=at(4, 8),
            delivered_day=date(2026, 3, 4),
        ),
        parcel("p9", at(5, 9)),
    ]
