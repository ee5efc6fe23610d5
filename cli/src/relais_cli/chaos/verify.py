"""What a chaos run checks once the pipeline has settled, from the outside.

Every layer is checked against what the layer before it really produced, so one lost
message is counted once, at the first place the chain breaks (docs/chaos.md):

1. orders: every order the order API accepted (202) is in the tracker's orders;
2. scans: every carrier call accepted (202) is a tracking event of its shipment;
3. anomalies: every anomaly the parcel's story implies (a failed attempt, a return, a
   damaged parcel...) was opened by the detector; no (shipment, type) was opened twice
   (re-opened after a resolution counts: no story resolves an anomaly then repeats it);
4. notifications: every anomaly the detector opened (its table, so a stuck outbox
   shows), every AnomalyDetected, AnomalyEscalated, ShipmentMilestoneReached
   (relais.anomalies.v1) and ActionCompleted (relais.action-results.v1) has its
   notifier row(s); none is `failed`, none still due and unsent;
5. emails: every email the notifier recorded as sent is in the SMTP catcher exactly once
   by Message-ID, addressed to the shipment's customer, and no customer got more emails
   than were sent to them;
6. decisions: every ResolutionChosen asking for an action (relais.conversations.v1) and
   every AnomalyDetected that the merchant's automatic rules cover has its action row;
7. actions: every action the actions service decided to execute reached the merchant
   stub, acted on exactly once by Idempotency-Key, and no decision reached it twice
   under two keys;
8. dead letters: none of the dead-lettered messages is valid (the traffic holds no bad
   input, so every dead letter is a lost valid message);
9. services: every /ready answers 200 at the end; relais_loop_restarts_total and the
   process restarts are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from relais_cli.chaos.processes import probe
from relais_cli.chaos.traffic import ChaosMerchantStub, Mail, TrafficStats
from relais_cli.demo.story import CarrierCall, DayOfTraffic
from relais_contracts.envelope import Event
from relais_contracts.topics import topic_named
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.conversations import ResolutionChosen, ResolutionOutcome
from relais_contracts.topics.dead_letters import MessageDeadLettered
from relais_runtime.merchants import MerchantDirectory

ANOMALY_OF_SCAN = {
    "recipient_absent": "failed_attempt",
    "incorrect_address": "address_problem",
    "returning_to_sender": "returned_to_sender",
    "damaged": "damaged",
    "refused_by_recipient": "refused",
    "ready_for_pickup": "pickup_ready",
    "delivered_to_neighbour": "delivered_to_third_party",
    "lost": "lost",
    "held_at_customs": "held_at_customs",
    "delayed_processing": "delivery_late",
}
"""The anomaly a scan of the demo's stories opens (demo.story.scenario_scans)."""
STALLED_AFTER = "in_transit_unspecified"
"""A parcel whose last scan is this one stalls (a time-driven anomaly)."""
NOT_CALLED = ("not_allowed", "expired")
"""Action decisions that never call the merchant by design."""


@dataclass
class Check:
    name: str
    expected: int = 0
    ok: int = 0
    lost: int = 0
    duplicated: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def lose(self, what: str, count: int = 1) -> None:
        self.lost += count
        if len(self.examples) < 8:
            self.examples.append(f"lost: {what}")

    def duplicate(self, what: str, count: int = 1) -> None:
        self.duplicated += count
        if len(self.examples) < 8:
            self.examples.append(f"duplicated: {what}")


@dataclass
class Verification:
    checks: list[Check]
    ready: dict[str, int]
    loop_restarts: dict[str, float]
    loops_down: dict[str, list[str]]

    @property
    def lost(self) -> int:
        return sum(check.lost for check in self.checks)

    @property
    def duplicated(self) -> int:
        return sum(check.duplicated for check in self.checks)

    @property
    def loops_alive(self) -> bool:
        return all(status == 200 for status in self.ready.values()) and not any(
            self.loops_down.values()
        )

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.loops_alive


@dataclass
class Observed:
    """Everything read back from the run's topics."""

    detected: list[AnomalyDetected] = field(default_factory=list)
    escalated: list[AnomalyEscalated] = field(default_factory=list)
    milestones: list[ShipmentMilestoneReached] = field(default_factory=list)
    completed: list[ActionCompleted] = field(default_factory=list)
    resolutions: list[ResolutionChosen] = field(default_factory=list)
    dead_letters: list[MessageDeadLettered] = field(default_factory=list)


async def read_topics(bootstrap: str) -> Observed:
    """Every message of the topics the checks need, from the beginning to the end."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    names = [
        "relais.anomalies.v1",
        "relais.action-results.v1",
        "relais.conversations.v1",
        "relais.dead-letters.v1",
    ]
    observed = Observed()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, partition)
            for name in names
            for partition in range(topic_named(name).partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=2000, max_records=2000)
            if not batches:
                break
            for tp, records in batches.items():
                topic = topic_named(tp.topic)
                for record in records:
                    with contextlib.suppress(Exception):
                        _file(observed, topic.decode(record.value or b""))
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return observed


def _file(observed: Observed, event: Event) -> None:
    if isinstance(event, AnomalyDetected):
        observed.detected.append(event)
    elif isinstance(event, AnomalyEscalated):
        observed.escalated.append(event)
    elif isinstance(event, ShipmentMilestoneReached):
        observed.milestones.append(event)
    elif isinstance(event, ActionCompleted):
        observed.completed.append(event)
    elif isinstance(event, ResolutionChosen):
        observed.resolutions.append(event)
    elif isinstance(event, MessageDeadLettered):
        observed.dead_letters.append(event)


async def read_tables(database_url: str) -> dict[str, list[asyncpg.Record]]:
    queries = {
        "orders": "SELECT merchant_id, order_id FROM tracker.orders",
        "tracking_events": (
            "SELECT merchant_id, shipment_id, count(*) AS n FROM tracker.tracking_events"
            " GROUP BY 1, 2"
        ),
        "held_events": "SELECT count(*) AS n FROM tracker.pending_tracking_events",
        "anomalies": (
            "SELECT merchant_id, shipment_id, anomaly_type, occurrence, episode,"
            " anomaly_id::text AS anomaly_id FROM detector.anomalies"
        ),
        "notifications": (
            "SELECT idempotency_key, merchant_id, shipment_id, channel, trigger_kind,"
            " trigger_ref::text AS trigger_ref, status, due_at, provider_message_id,"
            " outcome_reason, attempts, now() AS now FROM notifier.notifications"
        ),
        "reviews": "SELECT trigger_ref::text AS trigger_ref, status FROM notifier.reviews",
        "actions": (
            "SELECT merchant_id, action_id::text AS action_id, shipment_id, action_type,"
            " automatic, source_event_id::text AS source_event_id, state, failure_reason,"
            " anomaly_id::text AS anomaly_id, conversation_id::text AS conversation_id"
            " FROM actions.actions"
        ),
    }
    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        return {name: list(await connection.fetch(sql)) for name, sql in queries.items()}
    finally:
        await connection.close()


def expected_anomalies(
    day: DayOfTraffic,
    stats: TrafficStats,
    *,
    merchants: MerchantDirectory,
    virtual_now: datetime,
) -> dict[str, set[str]]:
    """shipment id -> the anomaly types its story implies, for parcels whose order and
    every scan were accepted. A stalled parcel is expected to be found stalled only once
    its merchant's `stalled_after_hours` (plus an hour) have passed on the run's clock."""
    shipments = {
        str(call.body["parcels"][0]["tracking_number"]): (
            str(call.body["parcels"][0]["shipment_id"]),
            str(call.body["order_id"]),
            call.merchant_id,
        )
        for call in day.orders
    }
    scans_of: dict[str, list[CarrierCall]] = defaultdict(list)
    for scan in day.scans:
        scans_of[scan.tracking_number].append(scan)
    expected: dict[str, set[str]] = {}
    for tracking_number, (shipment_id, order_id, merchant_id) in shipments.items():
        scans = scans_of.get(tracking_number, [])
        if order_id not in stats.orders_accepted:
            continue
        if stats.scans_accepted[tracking_number] != len(scans):
            continue
        types = {ANOMALY_OF_SCAN[scan.kind] for scan in scans if scan.kind in ANOMALY_OF_SCAN}
        merchant = merchants.merchants.get(merchant_id)
        if merchant is None:
            continue
        if scans and scans[-1].kind == STALLED_AFTER:
            due = scans[-1].at + timedelta(hours=merchant.detection.stalled_after_hours + 1)
            if due <= virtual_now:
                types.add("stalled")
        disabled = {str(kind) for kind in merchant.detection.disabled}
        expected[shipment_id] = types - disabled
    return expected


def check_orders(stats: TrafficStats, tables: dict[str, list[asyncpg.Record]]) -> Check:
    check = Check("orders recorded by the tracker")
    recorded = {(row["merchant_id"], row["order_id"]) for row in tables["orders"]}
    for order_id, merchant_id in stats.orders_accepted.items():
        check.expected += 1
        if (merchant_id, order_id) in recorded:
            check.ok += 1
        else:
            check.lose(f"order {order_id}")
    return check


def check_scans(
    day: DayOfTraffic, stats: TrafficStats, tables: dict[str, list[asyncpg.Record]]
) -> Check:
    check = Check("carrier scans recorded as tracking events")
    shipment_of = {
        str(call.body["parcels"][0]["tracking_number"]): str(call.body["parcels"][0]["shipment_id"])
        for call in day.orders
    }
    recorded = {row["shipment_id"]: int(row["n"]) for row in tables["tracking_events"]}
    for tracking_number, accepted in stats.scans_accepted.items():
        check.expected += accepted
        found = recorded.get(shipment_of.get(tracking_number, ""), 0)
        check.ok += min(found, accepted)
        if found < accepted:
            check.lose(f"{accepted - found} scan(s) of {tracking_number}", accepted - found)
    check.detail["held_waiting_for_their_order"] = int(tables["held_events"][0]["n"])
    return check


def check_anomalies(
    expected: dict[str, set[str]], tables: dict[str, list[asyncpg.Record]], observed: Observed
) -> Check:
    check = Check("anomalies opened (once) as the stories imply")
    opened: dict[tuple[str, str], int] = Counter(
        (row["shipment_id"], row["anomaly_type"]) for row in tables["anomalies"]
    )
    for shipment_id, types in expected.items():
        for anomaly_type in sorted(types):
            check.expected += 1
            if opened.get((shipment_id, anomaly_type)):
                check.ok += 1
            else:
                check.lose(f"{anomaly_type} of {shipment_id}")
    on_topic: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in observed.detected:
        on_topic[(event.shipment_id, event.anomaly_type.value)].add(str(event.anomaly_id))
    for (shipment_id, anomaly_type), ids in on_topic.items():
        rows = opened.get((shipment_id, anomaly_type), 0)
        if len(ids) > max(rows, 1):
            check.duplicate(f"{anomaly_type} of {shipment_id} opened {len(ids)} times")
    # The detector opens a type again only for a new episode (the fact it is about: the
    # scan a parcel stalled after, the promise missed), after the previous one was
    # resolved. The same episode opened twice is a duplicate; a new one is not (a fault
    # that delays the scans can make a parcel stall, resume, then stall again).
    episodes = Counter(
        (row["shipment_id"], row["anomaly_type"], row["episode"]) for row in tables["anomalies"]
    )
    for (shipment_id, anomaly_type, _episode), rows in episodes.items():
        if rows > 1:
            check.duplicate(f"{anomaly_type} of {shipment_id}: one episode, {rows} rows", rows - 1)
    check.detail["reopened_for_a_new_episode"] = sum(
        rows - 1 for rows in opened.values() if rows > 1
    )
    check.detail["opened_by_type"] = dict(
        Counter(row["anomaly_type"] for row in tables["anomalies"])
    )
    published = {str(event.anomaly_id) for event in observed.detected}
    check.detail["opened_but_not_published"] = sum(
        1 for row in tables["anomalies"] if str(row["anomaly_id"]) not in published
    )
    check.detail["opened_beyond_the_stories"] = sum(
        1
        for (shipment_id, anomaly_type) in opened
        if anomaly_type not in expected.get(shipment_id, set())
    )
    return check


def check_notifications(
    tables: dict[str, list[asyncpg.Record]], observed: Observed, *, virtual_now: datetime
) -> tuple[Check, Check]:
    told = Check("triggers recorded by the notifier")
    rows_by_ref: dict[str, list[asyncpg.Record]] = defaultdict(list)
    # A message held for the merchant's review is recorded too: it waits for an agent.
    for row in [*tables["notifications"], *tables.get("reviews", [])]:
        rows_by_ref[row["trigger_ref"]].append(row)
    for ref, what in _notification_triggers(tables, observed).items():
        told.expected += 1
        if rows_by_ref.get(ref):
            told.ok += 1
        else:
            told.lose(what)
    return told, _check_notifications_settled(tables, virtual_now=virtual_now)


def _notification_triggers(
    tables: dict[str, list[asyncpg.Record]], observed: Observed
) -> dict[str, str]:
    """Every trigger the notifier must have recorded: its ref, and what it was."""
    triggers: dict[str, str] = {}
    for event in observed.detected:
        triggers[str(event.anomaly_id)] = f"{event.anomaly_type.value} of {event.shipment_id}"
    # An anomaly the detector opened but never published (its outbox stuck) is never told
    # either: the detector's own rows count too.
    for opened in tables["anomalies"]:
        triggers.setdefault(
            str(opened["anomaly_id"]),
            f"{opened['anomaly_type']} of {opened['shipment_id']} (opened, never published)",
        )
    for escalated in observed.escalated:
        triggers.setdefault(str(escalated.anomaly_id), f"escalation of {escalated.shipment_id}")
    for milestone in observed.milestones:
        triggers[str(milestone.milestone_id)] = (
            f"{milestone.milestone.value} of {milestone.shipment_id}"
        )
    for completed in observed.completed:
        triggers[str(completed.action_id)] = f"action {completed.action_id}"
    return triggers


def _check_notifications_settled(
    tables: dict[str, list[asyncpg.Record]], *, virtual_now: datetime
) -> Check:
    outcome = Check("notifications settled (not failed, none left due)")
    statuses: Counter[str] = Counter()
    for row in tables["notifications"]:
        statuses[f"{row['channel']} {row['status']} {row['outcome_reason'] or ''}".strip()] += 1
        outcome.expected += 1
        stuck = row["status"] in ("pending", "sending") and row["due_at"] <= virtual_now
        if row["status"] == "failed" or (stuck and row["channel"] == "email"):
            outcome.lose(f"{row['channel']} {row['status']} {row['outcome_reason']}")
        else:
            outcome.ok += 1
    outcome.detail["by_channel_status_reason"] = dict(sorted(statuses.items()))
    return outcome


def message_id_key(message_id: str) -> str:
    return re.sub(r"\s+", "", message_id).strip("<>").lower()


def check_emails(
    tables: dict[str, list[asyncpg.Record]],
    mails: list[Mail],
    recipient_of: dict[str, str],
    *,
    rows_after: list[asyncpg.Record] | None = None,
) -> Check:
    """Rows read before the mails (a row sent by then must be there), and again after
    them (`rows_after`: a mail whose row is still not sent will be sent again)."""
    check = Check("emails in the SMTP catcher, once each")
    by_id: dict[str, list[Mail]] = defaultdict(list)
    for mail in mails:
        by_id[message_id_key(mail.message_id)].append(mail)
    sent_ids = _check_sent_rows(check, tables["notifications"], by_id, recipient_of)
    duplicated_by_id = check.duplicated
    rows_later = tables["notifications"] if rows_after is None else rows_after
    unrecorded = _unrecorded_mails(check, by_id, sent_ids, rows_later)
    received_per_recipient: Counter[str] = Counter(
        recipient for mail in mails for recipient in mail.recipients
    )
    extra_by_recipient = _extra_by_recipient(received_per_recipient, rows_later, recipient_of)
    check.detail["mails_received"] = len(mails)
    check.detail["mails_not_recorded_as_sent_by_row_status"] = dict(unrecorded)
    check.detail["recipients"] = len(received_per_recipient)
    check.detail["extra_mails_by_recipient"] = extra_by_recipient
    # A duplicate seen by recipient only: two notification rows for one message.
    beyond = extra_by_recipient - duplicated_by_id - sum(unrecorded.values())
    if beyond > 0:
        check.duplicate(f"{beyond} mail(s) beyond what each recipient was sent", beyond)
    return check


def _check_sent_rows(
    check: Check,
    rows: list[asyncpg.Record],
    by_id: dict[str, list[Mail]],
    recipient_of: dict[str, str],
) -> set[str]:
    """Every email row recorded as sent has its mail, once, to the shipment's customer;
    the Message-ID keys of those rows."""
    sent_ids: set[str] = set()
    for row in rows:
        if row["channel"] != "email" or row["status"] != "sent":
            continue
        check.expected += 1
        key = message_id_key(row["provider_message_id"] or "")
        sent_ids.add(key)
        recipient = recipient_of.get(row["shipment_id"], "")
        found = by_id.get(key, [])
        if not found:
            check.lose(f"email {row['provider_message_id']}")
            continue
        if len(found) > 1:
            check.duplicate(f"email {row['provider_message_id']} x{len(found)}", len(found) - 1)
        if recipient and recipient not in found[0].recipients:
            check.lose(f"email {row['provider_message_id']} to the wrong recipient")
            continue
        check.ok += 1
    return sent_ids


def _unrecorded_mails(
    check: Check,
    by_id: dict[str, list[Mail]],
    sent_ids: set[str],
    rows_later: list[asyncpg.Record],
) -> Counter[str]:
    """Mails whose Message-ID no sent row has, by the status of their row.

    The provider took such a mail but the notifier did not record the send (the window
    delivery.py describes). While its row waits for another round it will be sent
    again: that second copy is a duplicate."""
    rows_by_local = {
        str(row["idempotency_key"]).replace(":", ".").lower(): row
        for row in rows_later
        if row["channel"] == "email"
    }
    sent_later = {
        message_id_key(row["provider_message_id"] or "")
        for row in rows_later
        if row["channel"] == "email" and row["status"] == "sent"
    }
    unrecorded: Counter[str] = Counter()
    for key, copies in by_id.items():
        if key in sent_ids or key in sent_later:
            continue
        waiting = rows_by_local.get(key.rsplit("@", 1)[0])
        status = "unknown to the notifier" if waiting is None else str(waiting["status"])
        unrecorded[status] += len(copies)
        if status in ("pending", "sending"):
            check.duplicate(f"email {key} delivered, its row {status}: it will be sent again")
    return unrecorded


def _extra_by_recipient(
    received_per_recipient: Counter[str],
    rows_later: list[asyncpg.Record],
    recipient_of: dict[str, str],
) -> int:
    """Mails each recipient got beyond the sends recorded for them, summed. Sends per
    recipient from the later read: a mail sent between the first read and the mails is
    no extra mail."""
    sent_per_recipient = Counter(
        recipient_of.get(row["shipment_id"], "")
        for row in rows_later
        if row["channel"] == "email" and row["status"] == "sent"
    )
    extra = 0
    for recipient, count in received_per_recipient.items():
        if count > sent_per_recipient.get(recipient, 0):
            extra += count - sent_per_recipient.get(recipient, 0)
    return extra


def decision_source(row: asyncpg.Record) -> tuple[str, str]:
    """What an action row was decided for: the conversation of a customer's choice, or
    the anomaly of an automatic rule (a refusal keeps its own event id, not its source's)."""
    if row["conversation_id"] is not None:
        return row["merchant_id"], f"conversation {row['conversation_id']}"
    return row["merchant_id"], f"anomaly {row['anomaly_id']} automatic={row['automatic']}"


def check_decisions(
    tables: dict[str, list[asyncpg.Record]], observed: Observed, merchants: MerchantDirectory
) -> Check:
    from relais_actions.domain.policy import source_of_anomaly

    check = Check("actions decided for every choice and automatic rule")
    decided = {decision_source(row) for row in tables["actions"]}
    sources: dict[tuple[str, str], str] = {}
    resolutions: Counter[tuple[str, str]] = Counter()
    for resolution in observed.resolutions:
        if resolution.outcome is ResolutionOutcome.EXECUTE_ACTION:
            key = (resolution.merchant_id, f"conversation {resolution.conversation_id}")
            sources[key] = f"choice of {resolution.shipment_id}"
            resolutions[key] += 1
    for detected in observed.detected:
        merchant = merchants.merchants.get(detected.merchant_id)
        if merchant is not None and source_of_anomaly(detected, config=merchant.actions):
            key = (detected.merchant_id, f"anomaly {detected.anomaly_id} automatic=True")
            sources[key] = f"automatic {detected.anomaly_type.value} of {detected.shipment_id}"
    for key, what in sources.items():
        check.expected += 1
        if key in decided:
            check.ok += 1
        else:
            check.lose(what)
    check.detail["from_choices"] = sum(1 for what in sources.values() if what.startswith("choice"))
    check.detail["automatic"] = sum(1 for what in sources.values() if what.startswith("auto"))
    check.detail["choices_published_more_than_once"] = sum(
        1 for count in resolutions.values() if count > 1
    )
    return check


def check_actions(tables: dict[str, list[asyncpg.Record]], stub: ChaosMerchantStub) -> Check:
    check = Check("actions at the merchant, once each by Idempotency-Key")
    rows = {row["action_id"]: row for row in tables["actions"]}
    states: Counter[str] = Counter()
    for action_id, row in rows.items():
        states[f"{row['state']} {row['failure_reason'] or ''}".strip()] += 1
        if row["failure_reason"] in NOT_CALLED:
            continue
        check.expected += 1
        if action_id in stub.actions:
            check.ok += 1
        else:
            check.lose(f"{row['action_type']} of {row['shipment_id']} ({row['state']})")
    per_decision: Counter[tuple[tuple[str, str], str]] = Counter()
    for key, acted in stub.actions.items():
        decided = rows.get(key)
        if decided is None:
            check.duplicate(f"{acted.action} of {acted.shipment_id}: key unknown to Relais")
            continue
        per_decision[(decision_source(decided), decided["action_type"])] += 1
    for ((_, source), action), count in per_decision.items():
        if count > 1:
            check.duplicate(f"{action} for {source} x{count}", count - 1)
    check.detail["decisions_by_state"] = dict(sorted(states.items()))
    check.detail["stub_calls_by_outcome"] = dict(sorted(stub.outcomes().items()))
    return check


def check_dead_letters(observed: Observed) -> Check:
    check = Check("no valid message dead-lettered")
    by_group: Counter[str] = Counter()
    invalid = 0
    for letter in observed.dead_letters:
        check.expected += 1
        try:
            topic_named(letter.source_topic).decode(letter.original_value())
        except Exception:
            invalid += 1
            continue
        by_group[f"{letter.consumer_group} {letter.reason.kind}"] += 1
        check.lose(f"{letter.consumer_group}: {letter.reason.kind}: {letter.reason.message[:120]}")
    check.ok = invalid
    check.detail["valid_by_group_and_reason"] = dict(sorted(by_group.items()))
    check.detail["invalid_messages"] = invalid
    return check


async def backlog(database_url: str, *, virtual_now: datetime) -> dict[str, int]:
    """Work the services have not finished: emails due and unsent, actions pending."""
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        due = await connection.fetchval(
            "SELECT count(*) FROM notifier.notifications WHERE channel = 'email'"
            " AND status IN ('pending', 'sending') AND due_at <= $1",
            virtual_now,
        )
        pending = await connection.fetchval(
            "SELECT count(*) FROM actions.actions WHERE state = 'pending'"
        )
    finally:
        await connection.close()
    return {"emails_due": int(due or 0), "actions_pending": int(pending or 0)}


METRIC = re.compile(r"^(relais_loop_restarts_total|relais_loop_up)\{([^}]*)\}\s+([0-9.eE+-]+)$")


def loop_metrics(ports: dict[str, int]) -> tuple[dict[str, float], dict[str, list[str]]]:
    """relais_loop_restarts_total summed by service, and the loops whose relais_loop_up is 0
    (empty when the services do not export them yet)."""
    restarts: dict[str, float] = {}
    down: dict[str, list[str]] = {}
    for service, port in ports.items():
        status, body = probe(port, "/metrics", timeout_s=5.0)
        restarts[service] = 0.0
        down[service] = []
        if status != 200:
            continue
        for line in body.splitlines():
            match = METRIC.match(line.strip())
            if match is None:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            if match.group(1) == "relais_loop_restarts_total":
                restarts[service] += float(match.group(3))
            elif float(match.group(3)) == 0:
                down[service].append(labels.get("loop", "?"))
    return restarts, down


def verify(
    *,
    bootstrap: str,
    database_url: str,
    day: DayOfTraffic,
    stats: TrafficStats,
    mails_after: Callable[[], list[Mail]],
    stub: ChaosMerchantStub,
    merchants: MerchantDirectory,
    ports: dict[str, int],
    virtual_now: datetime,
) -> Verification:
    observed = asyncio.run(read_topics(bootstrap))
    time.sleep(3)  # what is on the topics has reached the services' tables
    tables = asyncio.run(read_tables(database_url))
    mails = mails_after()
    # Read again after the mails: a message sent between the two reads is recorded as
    # sent by now, and is not taken for one that will be sent again.
    later = asyncio.run(read_tables(database_url))
    recipient_of = {
        str(call.body["parcels"][0]["shipment_id"]): str(call.body["customer"]["email"]).lower()
        for call in day.orders
    }
    told, settled = check_notifications(tables, observed, virtual_now=virtual_now)
    checks = [
        check_orders(stats, tables),
        check_scans(day, stats, tables),
        check_anomalies(
            expected_anomalies(day, stats, merchants=merchants, virtual_now=virtual_now),
            tables,
            observed,
        ),
        told,
        settled,
        check_emails(tables, mails, recipient_of, rows_after=later["notifications"]),
        check_decisions(tables, observed, merchants),
        check_actions(tables, stub),
        check_dead_letters(observed),
    ]
    ready = {service: probe(port, "/ready")[0] for service, port in ports.items()}
    restarts, down = loop_metrics(ports)
    return Verification(checks=checks, ready=ready, loop_restarts=restarts, loops_down=down)
