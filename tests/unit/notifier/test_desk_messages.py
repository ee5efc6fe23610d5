"""From the desk's commands to send-log rows (pure): trigger, key, link, template, facts,
and the `desk_answer` wording in every language and tone."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from relais_contracts.ids import notification_key
from relais_contracts.topics.desk_replies import AnswerCustomer, SendSurvey
from relais_contracts.topics.notifications import Channel, LinkKind, TriggerKind
from relais_notifier.domain.desk import answer_request, desk_facts, survey_request
from relais_notifier.domain.outcomes import NotificationStatus, plan
from relais_notifier.domain.triggers import MessageFacts, TriggerDisabled
from relais_notifier.texts.rendering import check_catalogue
from tests.unit.notifier.test_rendering import MERCHANTS

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
SETTINGS = MERCHANTS["velocity-sports"].notification
assert SETTINGS is not None


def answer(anomaly: bool) -> AnswerCustomer:
    answer_id = uuid4()
    return AnswerCustomer(
        event_id=answer_id,
        occurred_at=NOW,
        merchant_id="velocity-sports",
        correlation_id="S-1",
        shipment_id="S-1",
        case_id=uuid4(),
        answer_id=answer_id,
        order_id="O-1",
        anomaly_id=uuid4() if anomaly else None,
        agent_name="Nadia",
        text="Votre colis repart demain.",
    )


def survey() -> SendSurvey:
    return SendSurvey(
        occurred_at=NOW,
        merchant_id="velocity-sports",
        correlation_id="S-1",
        shipment_id="S-1",
        case_id=uuid4(),
        order_id="O-1",
    )


def test_an_answer_is_an_action_result_keyed_by_answer_linking_the_anomaly_chat() -> None:
    assert SETTINGS is not None
    event = answer(anomaly=True)
    request = answer_request(event, SETTINGS, facts=MessageFacts(order_number="#1"))
    [row] = plan(request, merchant_id="m", shipment_id="S-1", correlation_id="S-1", now=NOW)
    assert row.idempotency_key == notification_key(event.answer_id, "email", "desk-answer")
    assert (row.trigger_kind, row.trigger_name, row.template) == (
        TriggerKind.ACTION_RESULT,
        "desk_answer",
        "desk_answer",
    )
    assert (row.link_kind, row.link_subject) == (LinkKind.CHAT, str(event.anomaly_id))
    assert row.status is NotificationStatus.PENDING


def test_an_answer_without_anomaly_links_the_tracking_page() -> None:
    assert SETTINGS is not None
    request = answer_request(answer(anomaly=False), SETTINGS, facts=MessageFacts(order_number="#1"))
    assert (request.link_kind, request.link_subject) == (LinkKind.TRACKING_PAGE, "S-1")


def test_a_survey_is_the_delivered_message_keyed_by_case() -> None:
    assert SETTINGS is not None
    event = survey()
    request = survey_request(event, SETTINGS, facts=MessageFacts(order_number="#1"))
    assert not isinstance(request, TriggerDisabled)
    [row] = plan(request, merchant_id="m", shipment_id="S-1", correlation_id="S-1", now=NOW)
    assert row.idempotency_key == notification_key(event.case_id, "email", "desk-survey")
    assert (row.template, row.link_kind, row.link_subject) == ("delivered", LinkKind.SURVEY, "S-1")
    assert (row.trigger_kind, row.trigger_name) == (TriggerKind.ACTION_RESULT, "desk_survey")


def test_no_delivered_binding_no_survey() -> None:
    assert SETTINGS is not None
    settings = SETTINGS.model_copy(update={"milestones": {}})
    request = survey_request(survey(), settings, facts=MessageFacts(order_number="#1"))
    assert isinstance(request, TriggerDisabled)
    assert request.channel is Channel.EMAIL


@pytest.mark.parametrize(
    ("earlier", "expected"),
    [
        (None, MessageFacts(order_number="O-1")),
        (MessageFacts(order_number=""), MessageFacts(order_number="O-1")),
        (
            MessageFacts(order_number="#7", carrier="colissimo", action="refund", amount="5"),
            MessageFacts(order_number="#7", carrier="colissimo"),
        ),
    ],
)
def test_facts_repeat_the_parcel_only(earlier: MessageFacts | None, expected: MessageFacts) -> None:
    assert desk_facts(earlier, order_id="O-1") == expected


def test_desk_answer_is_in_every_catalogue() -> None:
    assert check_catalogue(["desk_answer"]) == []
