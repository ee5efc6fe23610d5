"""The pure parts of campaigns: what a selection may be, how outcomes are counted, and
how the back office's form fields become a selection and a content."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from relais_contracts.topics import notifications
from relais_contracts.topics.notification_commands import AnomalyScenarioContent, BroadcastContent
from relais_contracts.topics.notifications import (
    DeferralReason,
    NotificationDeferred,
    NotificationSent,
)
from relais_insights.domain.campaigns import (
    MAX_EXPLICIT,
    CampaignOutcome,
    CampaignSelection,
    campaign_message_of,
    progress_of,
)
from relais_insights.handlers.office_campaigns import Refused, draft_of, selection_of
from relais_runtime.merchants import merchants_of
from tests.conftest import REPO_ROOT

SENT = notifications.TOPIC.decode(
    (notifications.TOPIC.examples_dir() / "NotificationSent-campaign-broadcast.json").read_bytes()
)
MERCHANT = merchants_of(Path(REPO_ROOT) / "deploy" / "merchants")["maison-lumiere"]


def test_a_selection_is_either_filters_or_ids() -> None:
    with pytest.raises(ValidationError, match="either filters or shipment_ids"):
        CampaignSelection()
    with pytest.raises(ValidationError, match="either filters or shipment_ids"):
        CampaignSelection(filters={}, shipment_ids=("a",))
    with pytest.raises(ValidationError):
        CampaignSelection(shipment_ids=tuple(str(n) for n in range(MAX_EXPLICIT + 1)))
    assert CampaignSelection(filters={}).query() is not None
    assert CampaignSelection(shipment_ids=("a",)).query() is None


def test_a_bad_filter_is_refused_and_paging_is_ignored() -> None:
    with pytest.raises(ValidationError, match="status"):
        CampaignSelection(filters={"status": "teleported"})
    query = CampaignSelection(filters={"anomaly": "delivery_late", "cursor": "x"}).query()
    assert query is not None
    assert query.filters() == {"anomaly": "delivery_late"}


def test_ticked_ids_win_over_the_filters_and_a_bad_filter_names_its_field() -> None:
    picked = selection_of([("status", "delivered"), ("shipment_id", "S1"), ("shipment_id", "S2")])
    assert picked.shipment_ids == ("S1", "S2")
    filtered = selection_of([("f_status", "delivered"), ("lang", "en")], prefix="f_")
    assert filtered.filters == {"status": "delivered"}
    with pytest.raises(Refused) as refused:
        selection_of([("country", "France")])
    assert refused.value.field == "country"


def test_the_form_gives_a_broadcast_with_lf_line_breaks_or_the_anomaly_scenario() -> None:
    base = [("name", "Strike"), ("f_status", "delivered")]
    form = FormData(
        [*base, ("content", "broadcast"), ("subject_en", "Strike"), ("body_en", "Hi,\r\nsorry")]
    )
    draft, content = draft_of(form, MERCHANT)
    assert isinstance(content, BroadcastContent)
    assert content.texts[0].body == "Hi,\nsorry"
    assert draft.texts == {"en": ("Strike", "Hi,\nsorry")}
    _, scenario = draft_of(FormData([*base, ("content", "anomaly_scenario")]), MERCHANT)
    assert isinstance(scenario, AnomalyScenarioContent)
    with pytest.raises(Refused) as no_name:
        draft_of(FormData([("content", "anomaly_scenario")]), MERCHANT)
    assert no_name.value.field == "name"
    with pytest.raises(Refused) as no_words:
        draft_of(FormData([*base, ("content", "broadcast")]), MERCHANT)
    assert no_words.value.field == "texts"


def test_only_outcomes_carrying_a_campaign_id_are_counted() -> None:
    assert isinstance(SENT, NotificationSent)
    message = campaign_message_of(SENT)
    assert message is not None
    assert message.outcome is CampaignOutcome.SENT
    plain = SENT.model_copy(
        update={"trigger": SENT.trigger.model_copy(update={"campaign_id": None})}
    )
    assert campaign_message_of(plain) is None
    deferred = NotificationDeferred(
        **SENT.model_dump(include={"merchant_id", "shipment_id", "correlation_id", "channel"}),
        event_id=uuid4(),
        occurred_at=SENT.occurred_at,
        notification_id=SENT.notification_id,
        idempotency_key=SENT.idempotency_key,
        trigger=SENT.trigger,
        reason=DeferralReason.QUIET_HOURS,
        deliver_after=SENT.occurred_at,
    )
    counted = campaign_message_of(deferred)
    assert counted is not None
    assert (counted.outcome, counted.reason) == (CampaignOutcome.DEFERRED, "quiet_hours")


def test_progress_adds_outcomes_and_keeps_reasons_apart() -> None:
    progress = progress_of(
        [("sent", None, 2), ("suppressed", "unsubscribed", 1), ("suppressed", "stale", 1)]
    )
    assert (progress.sent, progress.suppressed, progress.deferred, progress.failed) == (2, 2, 0, 0)
    assert progress.reasons == {"suppressed:unsubscribed": 1, "suppressed:stale": 1}
    assert progress.answered == 4
