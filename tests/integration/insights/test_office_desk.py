"""The level-2 desk fed by the real insights consumers on real Kafka and PostgreSQL: a
CallbackRequested carrying the conversation's transcript becomes a case, which the API
with a `backoffice` key reads back with its transcript; another merchant's key sees none."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from relais_contracts import ids
from relais_contracts.topics import conversations
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.integration.insights.support import (
    RunningInsights,
    Tenant,
    _example,
    _with,
    now_utc,
    to_test_topics,
)
from tests.integration.insights.test_office_orders_projection import (  # noqa: F401
    fetch,
    insights,
    module_unique,
    parcel_story,
    publish,
    tenant,
)

pytestmark = pytest.mark.integration


async def test_a_callback_with_its_transcript_becomes_a_case(
    infrastructure: Infrastructure,
    insights: RunningInsights,  # noqa: F811
    tenant: tuple[Path, Tenant],  # noqa: F811
    unique: str,
) -> None:
    merchant = tenant[1]
    shipment = f"D1-{unique}"
    story = parcel_story(merchant.merchant_id, shipment, f"#D{unique}", resolved=False)
    anomaly_id = ids.anomaly_id(merchant.merchant_id, shipment, "failed_attempt")
    example = _example(conversations.TOPIC, "CallbackRequested-fr.json")
    callback_id = ids.callback_id(ids.conversation_id(merchant.merchant_id, anomaly_id))
    callback = _with(
        example,
        merchant.merchant_id,
        f"{shipment}-callback",
        now_utc().replace(microsecond=0),
        shipment_id=shipment,
        correlation_id=shipment,
        anomaly_id=anomaly_id,
        callback_id=callback_id,
    )
    await publish(
        infrastructure, to_test_topics([*story, (conversations.TOPIC.name, callback)], unique)
    )

    async def opened() -> bool:
        rows = await fetch(
            insights, "SELECT case_id FROM desk_cases WHERE merchant_id = $1", merchant.merchant_id
        )
        return len(rows) == 1

    assert await eventually(opened, timeout_s=60)
    headers = {"Authorization": f"Bearer {merchant.key}"}
    async with httpx.AsyncClient(base_url=insights.base_url, headers=headers) as client:
        queue = await client.get(f"/v1/office/{merchant.merchant_id}/desk")
        assert queue.status_code == 200, queue.text
        [case] = queue.json()["cases"]
        assert case["kind"] == "callback"
        assert case["status"] == "new"
        assert case["order_number"] == f"#D{unique}"
        assert [line["speaker"] for line in case["transcript"]] == [
            line.speaker.value for line in example.transcript
        ]
        assert case["transcript"][2]["text"] == "Être rappelée par un conseiller"
        one = await client.get(f"/v1/office/{merchant.merchant_id}/desk/{case['case_id']}")
        assert one.status_code == 200
        assert one.json()["slot_start"] is not None
        bad = await client.get(f"/v1/office/{merchant.merchant_id}/desk?status=closed")
        assert bad.status_code == 422
        assert "status" in bad.text
        other = await client.get(f"/v1/office/{merchant.merchant_id}/desk/{ids.derived_id('x')}")
        assert other.status_code == 404
