"""The merchant's KPIs for one period, computed from facts (pure, no I/O).

Definitions (docs/insights.md says the same in words):
- the anomaly cohort is the anomalies detected in the period; everything that
  follows from them (messages, chats, choices, actions, resolution) is counted
  whenever it happens, so the figures of a recent period can still grow;
- a parcel is in the period when its order was placed in it; its share "with an
  anomaly" counts any anomaly detected on it;
- time to tell: from the anomaly's `occurred_at` (the carrier event or the missed
  deadline) to the first message sent about it (anomaly or escalation trigger);
- funnel: anomalies -> told (a message sent) -> chat opened -> conversation
  completed (a resolution chosen or a callback requested) -> action chosen
  (resolution `execute_action`) -> action completed (the customer's, not automatic);
- return reasons: the closed reason customers gave for a refused or returned parcel,
  counted on the resolutions chosen about the cohort (one per conversation);
- escalations to a human: callbacks requested and actions handed to a human
  (ActionFailed escalated); abandonment: anomaly chats closed without an end,
  over the chats opened;
- CSAT: surveys answered in the period; WISMO: tracking page views in the period
  per order placed in the period;
- carrier performance: parcels delivered in the period (delivery day in the
  customer's zone): on time when delivered on or before the promised day (parcels
  with a promise only), lead time from shipped to delivered, first attempt when no
  failed attempt preceded the delivery;
- rates are fractions in [0, 1] rounded to 4 places, durations are rounded to 0.1,
  a rate or a duration with nothing to measure is None (never 0).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict

from relais_insights.domain.facts import Fact, FactKind, ShipmentFact
from relais_insights.domain.period import Period
from relais_insights.domain.savings import Savings, savings
from relais_runtime.merchants.insights import InsightsSection

UNKNOWN = "unknown"
COMMENTS_SHOWN = 20
TOLD_BY = frozenset({"anomaly", "anomaly_escalation"})


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class DayCount(Model):
    day: date
    count: int


class Anomalies(Model):
    total: int
    by_type: dict[str, int]
    by_carrier: dict[str, int]
    by_region: dict[str, int]
    by_day: list[DayCount]
    parcels: int
    parcels_with_anomaly: int
    share_of_parcels: float | None


class TimeToTell(Model):
    anomalies: int
    told: int
    told_share: float | None
    median_minutes: float | None
    p90_minutes: float | None


class Stage(Model):
    stage: str
    count: int
    share_of_previous: float | None


class Funnel(Model):
    stages: list[Stage]
    callbacks_requested: int
    actions_escalated: int
    anomalies_escalated: int
    conversations_abandoned: int
    abandonment_rate: float | None
    abandoned_by_reason: dict[str, int]


class Resolutions(Model):
    choices: dict[str, int]
    actions_completed: dict[str, int]
    actions_failed: dict[str, int]
    automatic_actions: int
    resolved: int
    resolution_rate: float | None
    resolved_by_reason: dict[str, int]
    median_hours_to_resolution: float | None
    p90_hours_to_resolution: float | None
    return_reasons: dict[str, int] = {}


class Comment(Model):
    day: date
    csat: int
    comment: str


class Csat(Model):
    responses: int
    distribution: dict[str, int]
    average: float | None
    comments: list[Comment]


class Wismo(Model):
    orders: int
    tracking_page_views: int
    parcels_viewed: int
    views_per_order: float | None
    by_entry: dict[str, int]


class CarrierRow(Model):
    key: str
    delivered: int
    with_promise: int
    on_time: int
    on_time_rate: float | None
    median_lead_time_hours: float | None
    first_attempt_rate: float | None


class Carriers(Model):
    by_carrier: list[CarrierRow]
    by_region: list[CarrierRow]


class Headline(Model):
    parcels: int
    anomalies: int
    anomaly_share: float | None
    told_share: float | None
    median_minutes_to_tell: float | None
    resolution_rate: float | None
    csat_average: float | None
    csat_responses: int
    views_per_order: float | None
    on_time_rate: float | None
    contacts_avoided: float
    money_saved: str
    currency: str


class PeriodOut(Model):
    start: date
    end: date
    time_zone: str


class Report(Model):
    merchant_id: str
    period: PeriodOut
    headline: Headline
    anomalies: Anomalies
    time_to_tell: TimeToTell
    funnel: Funnel
    resolutions: Resolutions
    csat: Csat
    wismo: Wismo
    carriers: Carriers
    savings: Savings


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items(), key=lambda item: (-item[1], item[0])))


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


REPORT_KINDS: Final[frozenset[FactKind]] = frozenset(
    {
        FactKind.ORDER_PLACED,
        FactKind.ANOMALY_DETECTED,
        FactKind.ANOMALY_ESCALATED,
        FactKind.ANOMALY_RESOLVED,
        FactKind.NOTIFICATION_SENT,
        FactKind.TRACKING_PAGE_VIEWED,
        FactKind.CONVERSATION_STARTED,
        FactKind.CONVERSATION_ABANDONED,
        FactKind.RESOLUTION_CHOSEN,
        FactKind.CALLBACK_REQUESTED,
        FactKind.SURVEY_ANSWERED,
        FactKind.ACTION_COMPLETED,
        FactKind.ACTION_FAILED,
    }
)
"""The only kinds a report reads: the repository loads no other (the tracking events,
most of the facts, never reach memory: a report of 9,000 orders kept ≈ 100 MB of them)."""


class _Index:
    """The facts of one report, grouped the ways the KPIs need; asking for a kind outside
    REPORT_KINDS is a programming error (the repository would not have loaded it)."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.by_kind: dict[FactKind, list[Fact]] = {}
        for fact in sorted(facts, key=lambda f: (f.occurred_at, str(f.event_id))):
            self.by_kind.setdefault(fact.kind, []).append(fact)

    def kind(self, kind: FactKind) -> list[Fact]:
        if kind not in REPORT_KINDS:
            raise LookupError(f"{kind} is not in REPORT_KINDS: the report is not given it")
        return self.by_kind.get(kind, [])

    def about(self, kind: FactKind, anomaly_ids: set[str], key: str = "anomaly_id") -> list[Fact]:
        return [f for f in self.kind(kind) if f.detail.get(key) in anomaly_ids]

    def firsts(self, kind: FactKind, key: Callable[[Fact], str | None]) -> dict[str, Fact]:
        found: dict[str, Fact] = {}
        for fact in self.kind(kind):
            value = key(fact)
            if value is not None and value not in found:
                found[value] = fact
        return found


def compute_report(
    *,
    merchant_id: str,
    facts: Iterable[Fact],
    shipments: Iterable[ShipmentFact],
    period: Period,
    model: InsightsSection,
) -> Report:
    index = _Index(facts)
    parcels = {s.shipment_id: s for s in shipments}
    cohort = [f for f in index.kind(FactKind.ANOMALY_DETECTED) if period.covers(f.occurred_at)]
    cohort_ids = {str(f.ref_id) for f in cohort}
    anomalies = _anomalies(index, cohort, parcels, period)
    told = _time_to_tell(index, cohort)
    funnel = _funnel(index, cohort_ids, told[1])
    resolutions = _resolutions(index, cohort, cohort_ids)
    csat = _csat(index, period)
    wismo = _wismo(index, period)
    carriers = _carriers(parcels.values(), period)
    saved = savings(
        model=model, anomalies_told=told[0].told, tracking_page_views=wismo.tracking_page_views
    )
    delivered = carriers.by_carrier
    headline = Headline(
        parcels=anomalies.parcels,
        anomalies=anomalies.total,
        anomaly_share=anomalies.share_of_parcels,
        told_share=told[0].told_share,
        median_minutes_to_tell=told[0].median_minutes,
        resolution_rate=resolutions.resolution_rate,
        csat_average=csat.average,
        csat_responses=csat.responses,
        views_per_order=wismo.views_per_order,
        on_time_rate=rate(
            sum(r.on_time for r in delivered), sum(r.with_promise for r in delivered)
        ),
        contacts_avoided=saved.contacts_avoided,
        money_saved=str(saved.money_saved),
        currency=saved.currency,
    )
    return Report(
        merchant_id=merchant_id,
        period=PeriodOut(start=period.start, end=period.end, time_zone=period.time_zone),
        headline=headline,
        anomalies=anomalies,
        time_to_tell=told[0],
        funnel=funnel,
        resolutions=resolutions,
        csat=csat,
        wismo=wismo,
        carriers=carriers,
        savings=saved,
    )


def _anomalies(
    index: _Index, cohort: list[Fact], parcels: dict[str, ShipmentFact], period: Period
) -> Anomalies:
    def carrier(fact: Fact) -> str:
        parcel = parcels.get(fact.shipment_id)
        return str(fact.detail.get("carrier") or (parcel and parcel.carrier) or UNKNOWN)

    def region(fact: Fact) -> str:
        parcel = parcels.get(fact.shipment_id)
        return (parcel.region if parcel else None) or UNKNOWN

    per_day = Counter(period.day_of(f.occurred_at) for f in cohort)
    in_period = [p for p in parcels.values() if period.covers(p.placed_at)]
    with_anomaly = {f.shipment_id for f in index.kind(FactKind.ANOMALY_DETECTED)}
    hit = sum(1 for p in in_period if p.shipment_id in with_anomaly)
    return Anomalies(
        total=len(cohort),
        by_type=_counts(str(f.detail["anomaly_type"]) for f in cohort),
        by_carrier=_counts(carrier(f) for f in cohort),
        by_region=_counts(region(f) for f in cohort),
        by_day=[DayCount(day=day, count=per_day.get(day, 0)) for day in period.days],
        parcels=len(in_period),
        parcels_with_anomaly=hit,
        share_of_parcels=rate(hit, len(in_period)),
    )


def _time_to_tell(index: _Index, cohort: list[Fact]) -> tuple[TimeToTell, set[str]]:
    first_sent = index.firsts(
        FactKind.NOTIFICATION_SENT,
        lambda f: str(f.detail["trigger_ref"]) if f.detail.get("trigger_kind") in TOLD_BY else None,
    )
    delays = [
        _minutes(f.occurred_at, first_sent[str(f.ref_id)].occurred_at)
        for f in cohort
        if str(f.ref_id) in first_sent
    ]
    told_ids = {str(f.ref_id) for f in cohort if str(f.ref_id) in first_sent}
    return (
        TimeToTell(
            anomalies=len(cohort),
            told=len(told_ids),
            told_share=rate(len(told_ids), len(cohort)),
            median_minutes=_median(delays),
            p90_minutes=_p90(delays),
        ),
        told_ids,
    )


def _funnel(index: _Index, cohort_ids: set[str], told_ids: set[str]) -> Funnel:
    started = [
        f
        for f in index.about(FactKind.CONVERSATION_STARTED, cohort_ids)
        if f.detail["purpose"] == "anomaly"
    ]
    anomaly_of = {str(f.ref_id): str(f.detail["anomaly_id"]) for f in started}
    opened = set(anomaly_of.values())
    chosen = index.about(FactKind.RESOLUTION_CHOSEN, cohort_ids)
    callbacks = index.about(FactKind.CALLBACK_REQUESTED, cohort_ids)
    completed = {str(f.detail["anomaly_id"]) for f in [*chosen, *callbacks]}
    wants_action = {
        str(f.detail["anomaly_id"]) for f in chosen if f.detail["outcome"] == "execute_action"
    }
    done = {
        str(f.detail["anomaly_id"])
        for f in index.about(FactKind.ACTION_COMPLETED, cohort_ids)
        if not f.detail.get("automatic")
    }
    counts = [
        ("anomalies", len(cohort_ids)),
        ("told", len(told_ids)),
        ("opened", len(opened)),
        ("completed", len(completed)),
        ("action_chosen", len(wants_action)),
        ("action_completed", len(done & wants_action)),
    ]
    stages = [
        Stage(
            stage=name, count=count, share_of_previous=rate(count, counts[i - 1][1]) if i else None
        )
        for i, (name, count) in enumerate(counts)
    ]
    abandoned = {
        str(f.ref_id): str(f.detail["reason"])
        for f in index.kind(FactKind.CONVERSATION_ABANDONED)
        if str(f.ref_id) in anomaly_of
    }
    return Funnel(
        stages=stages,
        callbacks_requested=len({str(f.ref_id) for f in callbacks}),
        actions_escalated=sum(
            1 for f in index.about(FactKind.ACTION_FAILED, cohort_ids) if f.detail.get("escalated")
        ),
        anomalies_escalated=len(
            {
                str(f.ref_id)
                for f in index.kind(FactKind.ANOMALY_ESCALATED)
                if str(f.ref_id) in cohort_ids
            }
        ),
        conversations_abandoned=len(abandoned),
        abandonment_rate=rate(len(abandoned), len(anomaly_of)),
        abandoned_by_reason=_counts(abandoned.values()),
    )


def _resolutions(index: _Index, cohort: list[Fact], cohort_ids: set[str]) -> Resolutions:
    chosen = index.about(FactKind.RESOLUTION_CHOSEN, cohort_ids)
    completed = index.about(FactKind.ACTION_COMPLETED, cohort_ids)
    failed = index.about(FactKind.ACTION_FAILED, cohort_ids)
    resolved = index.firsts(
        FactKind.ANOMALY_RESOLVED, lambda f: str(f.ref_id) if str(f.ref_id) in cohort_ids else None
    )
    hours = [
        _minutes(f.occurred_at, resolved[str(f.ref_id)].occurred_at) / 60
        for f in cohort
        if str(f.ref_id) in resolved
    ]
    return Resolutions(
        choices=_counts(str(f.detail.get("action") or f.detail["outcome"]) for f in chosen),
        actions_completed=_counts(str(f.detail["action"]) for f in completed),
        actions_failed=_counts(str(f.detail.get("reason", UNKNOWN)) for f in failed),
        automatic_actions=sum(1 for f in [*completed, *failed] if f.detail.get("automatic")),
        resolved=len(resolved),
        resolution_rate=rate(len(resolved), len(cohort_ids)),
        resolved_by_reason=_counts(str(f.detail["reason"]) for f in resolved.values()),
        median_hours_to_resolution=_median(hours),
        p90_hours_to_resolution=_p90(hours),
        return_reasons=_counts(
            str(f.detail["customer_reason"]) for f in chosen if "customer_reason" in f.detail
        ),
    )


def _csat(index: _Index, period: Period) -> Csat:
    answers = [f for f in index.kind(FactKind.SURVEY_ANSWERED) if period.covers(f.occurred_at)]
    scores = [int(f.detail["csat"]) for f in answers]
    comments = [
        Comment(
            day=period.day_of(f.occurred_at),
            csat=int(f.detail["csat"]),
            comment=str(f.detail["comment"]),
        )
        for f in reversed(answers)
        if f.detail.get("comment")
    ]
    return Csat(
        responses=len(scores),
        distribution={str(score): scores.count(score) for score in range(1, 6)},
        average=round(statistics.fmean(scores), 2) if scores else None,
        comments=comments[:COMMENTS_SHOWN],
    )


def _wismo(index: _Index, period: Period) -> Wismo:
    views = [f for f in index.kind(FactKind.TRACKING_PAGE_VIEWED) if period.covers(f.occurred_at)]
    orders = sum(1 for f in index.kind(FactKind.ORDER_PLACED) if period.covers(f.occurred_at))
    return Wismo(
        orders=orders,
        tracking_page_views=len(views),
        parcels_viewed=len({f.shipment_id for f in views}),
        views_per_order=round(len(views) / orders, 2) if orders else None,
        by_entry=_counts(str(f.detail["entry"]) for f in views),
    )


def _carrier_row(key: str, parcels: list[ShipmentFact]) -> CarrierRow:
    promised = [p for p in parcels if p.promised_delivery_by is not None]
    on_time = sum(
        1
        for p in promised
        if p.delivered_day is not None
        and p.promised_delivery_by is not None
        and p.delivered_day <= p.promised_delivery_by
    )
    lead = [
        (p.delivered_at - p.shipped_at).total_seconds() / 3600
        for p in parcels
        if p.delivered_at and p.shipped_at
    ]
    first = sum(1 for p in parcels if p.failed_attempts == 0)
    return CarrierRow(
        key=key,
        delivered=len(parcels),
        with_promise=len(promised),
        on_time=on_time,
        on_time_rate=rate(on_time, len(promised)),
        median_lead_time_hours=_median(lead),
        first_attempt_rate=rate(first, len(parcels)),
    )


def _carriers(parcels: Iterable[ShipmentFact], period: Period) -> Carriers:
    delivered = [p for p in parcels if not p.cancelled and period.covers_day(p.delivered_day)]

    def rows(key: Callable[[ShipmentFact], str]) -> list[CarrierRow]:
        groups: dict[str, list[ShipmentFact]] = {}
        for parcel in delivered:
            groups.setdefault(key(parcel), []).append(parcel)
        found = [_carrier_row(name, group) for name, group in groups.items()]
        return sorted(found, key=lambda row: (-row.delivered, row.key))

    return Carriers(
        by_carrier=rows(lambda p: p.carrier or UNKNOWN),
        by_region=rows(lambda p: p.region or UNKNOWN),
    )
