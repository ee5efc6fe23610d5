"""relais chaos without infrastructure: the seeded plan, and the verifier's checks on
hand-made evidence (they must see a loss or a duplicate where there is one)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg

from relais_cli.chaos.faults import FaultRecord
from relais_cli.chaos.plan import FaultKind, plan_run
from relais_cli.chaos.report import recoveries
from relais_cli.chaos.sampler import Sample
from relais_cli.chaos.traffic import ChaosMerchantStub, Mail, StubAction
from relais_cli.chaos.verify import (
    Observed,
    check_actions,
    check_anomalies,
    check_dead_letters,
    check_emails,
    check_notifications,
)
from relais_contracts.topics.dead_letters import DeadLetterReason, MessageDeadLettered

EXAMPLES = Path(__file__).parents[2] / "contracts/src/relais_contracts/examples"


def rows(*items: Mapping[str, Any]) -> list[asyncpg.Record]:
    """Dicts read like asyncpg records by the checks (row["column"])."""
    return cast(list[asyncpg.Record], list(items))


def test_the_plan_is_seeded_and_has_every_fault_kind() -> None:
    small = plan_run(seed=3, events=300, small=True)
    assert small == plan_run(seed=3, events=300, small=True)
    assert sorted(fault.kind for fault in small.faults) == sorted(FaultKind)
    full = plan_run(seed=3, events=10_000, small=False)
    assert full.count(FaultKind.KILL_SERVICE) >= 5
    assert {FaultKind.KILL_KAFKA, FaultKind.KILL_POSTGRES, FaultKind.SMTP_DOWN} <= {
        fault.kind for fault in full.faults
    }
    starts = [fault.at_s for fault in full.faults]
    assert starts == sorted(starts)
    assert all(fault.at_s + fault.down_s < full.traffic_s for fault in full.faults)
    assert plan_run(seed=4, events=10_000, small=False).faults != full.faults
    assert plan_run(seed=3, events=300, small=True, faults=False).faults == ()


def mail(message_id: str, to: str) -> Mail:
    return Mail(
        key=message_id, at_s=0.0, message_id=message_id, recipients=(to,), subject="", links=()
    )


def email_row(key: str, shipment: str, status: str) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "shipment_id": shipment,
        "channel": "email",
        "status": status,
        "provider_message_id": f"<{key.replace(':', '.')}@shop.example>"
        if status == "sent"
        else None,
    }


def test_emails_lost_duplicated_and_delivered_unrecorded_are_told_apart() -> None:
    tables = {
        "notifications": rows(
            email_row("n:1", "s1", "sent"),  # arrived once: ok
            email_row("n:2", "s2", "sent"),  # never arrived: lost
            email_row("n:3", "s3", "sent"),  # arrived twice: duplicated
            email_row("n:4", "s4", "pending"),  # arrived, will be sent again: duplicated
        )
    }
    mails = [
        mail("<n.1@shop.example>", "a@example.com"),
        mail("<n.3@shop.example>", "c@example.com"),
        mail("<n.3@shop.example>", "c@example.com"),
        mail("<n.4@shop.example>", "d@example.com"),
    ]
    recipients = {
        "s1": "a@example.com",
        "s2": "b@example.com",
        "s3": "c@example.com",
        "s4": "d@example.com",
    }
    check = check_emails(tables, mails, recipients)
    assert (check.expected, check.ok, check.lost, check.duplicated) == (3, 2, 1, 2)


def test_emails_to_the_wrong_customer_are_lost() -> None:
    tables = {"notifications": rows(email_row("n:1", "s1", "sent"))}
    check = check_emails(tables, [mail("<n.1@shop.example>", "x@example.com")], {"s1": "a@x"})
    assert check.lost == 1


def stub_with(actions: dict[str, StubAction]) -> ChaosMerchantStub:
    stub = ChaosMerchantStub(seed=1, error_rate=0, slow_rate=0, slow_s=1, origin=0)
    stub.actions = actions
    stub.server.server_close()
    return stub


def action_row(
    action_id: str, conversation: str | None, reason: str | None = None
) -> dict[str, Any]:
    return {
        "merchant_id": "m",
        "action_id": action_id,
        "shipment_id": "s",
        "action_type": "reship",
        "automatic": conversation is None,
        "source_event_id": str(uuid.uuid4()),
        "state": "failed" if reason else "completed",
        "failure_reason": reason,
        "anomaly_id": "a1",
        "conversation_id": conversation,
    }


def acted(key: str) -> StubAction:
    return StubAction(
        key=key, merchant_id="m", shipment_id="s", action="reship", automatic=False, first_at_s=0
    )


def test_actions_missing_at_the_merchant_or_twice_for_one_decision() -> None:
    tables = {
        "actions": rows(
            action_row("k1", "c1"),  # acted on: ok
            action_row("k2", "c2"),  # never reached the merchant: lost
            action_row("k3", "c1"),  # a second key for conversation c1: duplicated
            action_row("k4", "c4", reason="not_allowed"),  # refused: not expected there
        )
    }
    check = check_actions(tables, stub_with({"k1": acted("k1"), "k3": acted("k3")}))
    assert (check.expected, check.ok, check.lost, check.duplicated) == (3, 2, 1, 1)


def dead_letter(topic: str, value: bytes) -> MessageDeadLettered:
    return MessageDeadLettered(
        merchant_id="shop-1",
        correlation_id="c",
        occurred_at=datetime.now(UTC),
        consumer_group="notifier.anomalies",
        source_topic=topic,
        source_partition=0,
        source_offset=1,
        original_value_b64=base64.b64encode(value).decode(),
        reason=DeadLetterReason(kind="retries_exhausted", message="connection refused"),
    )


def test_a_valid_message_dead_lettered_is_a_loss_an_invalid_one_is_not() -> None:
    valid = (EXAMPLES / "relais.orders.v1/OrderCancelled.json").read_bytes()
    observed = Observed(
        dead_letters=[
            dead_letter("relais.orders.v1", valid),
            dead_letter("relais.orders.v1", b"{not json"),
        ]
    )
    check = check_dead_letters(observed)
    assert (check.expected, check.lost, check.ok) == (2, 1, 1)


def sample(at: float, mails: int) -> Sample:
    return Sample(at_s=at, accepted_calls=0, mails=mails, actions=0, topics=None, ready={})


def test_recovery_is_the_first_new_output_after_the_component_is_back() -> None:
    plan = plan_run(seed=1, events=300, small=True)
    smtp = next(fault for fault in plan.faults if fault.kind is FaultKind.SMTP_DOWN)
    record = FaultRecord(fault=smtp, started_at_s=10.0, restored_at_s=30.0)
    samples = [sample(t, 5 if t < 33 else 9) for t in range(0, 40)]
    (found,) = recoveries([record], samples)
    assert (found.flowing_at_s, found.recovery_s, found.since_fault_s) == (33, 3.0, 23.0)


def test_an_anomaly_opened_but_never_published_is_a_customer_never_told() -> None:
    tables = {
        "anomalies": rows(
            {"anomaly_id": "a-told", "anomaly_type": "lost", "shipment_id": "s1"},
            {"anomaly_id": "a-stuck", "anomaly_type": "damaged", "shipment_id": "s2"},
        ),
        "notifications": rows(
            {
                **email_row("n:1", "s1", "sent"),
                "trigger_ref": "a-told",
                "outcome_reason": None,
                "due_at": datetime.now(UTC),
            }
        ),
    }
    told, settled = check_notifications(tables, Observed(), virtual_now=datetime.now(UTC))
    assert (told.expected, told.ok, told.lost) == (2, 1, 1)
    assert settled.lost == 0


def test_an_episode_opened_twice_is_a_duplicate_a_new_episode_is_not() -> None:
    def anomaly(shipment_id: str, episode: str, occurrence: int) -> dict[str, Any]:
        return {
            "anomaly_id": f"{shipment_id}-{occurrence}",
            "anomaly_type": "stalled",
            "shipment_id": shipment_id,
            "episode": episode,
            "occurrence": occurrence,
        }

    tables = {
        "anomalies": rows(
            anomaly("resumed-then-stalled", "scan-1", 1),
            anomaly("resumed-then-stalled", "scan-2", 2),
            anomaly("twice", "scan-1", 1),
            anomaly("twice", "scan-1", 2),
        )
    }
    expected = {"resumed-then-stalled": {"stalled"}, "twice": {"stalled"}}
    check = check_anomalies(expected, tables, Observed())
    assert (check.expected, check.ok, check.lost, check.duplicated) == (2, 2, 0, 1)
    assert check.examples == ["duplicated: stalled of twice: one episode, 2 rows"]
    assert check.detail["reopened_for_a_new_episode"] == 2


def test_a_mail_sent_between_the_two_reads_is_no_duplicate() -> None:
    before = {"notifications": rows(email_row("n:5", "s5", "pending"))}
    after = rows(email_row("n:5", "s5", "sent"))
    mails = [mail("<n.5@shop.example>", "e@example.com")]
    check = check_emails(before, mails, {"s5": "e@example.com"}, rows_after=after)
    assert (check.lost, check.duplicated) == (0, 0)
    still_pending = check_emails(
        before, mails, {"s5": "e@example.com"}, rows_after=before["notifications"]
    )
    assert still_pending.duplicated == 1, "delivered while its row still waits: sent again"
