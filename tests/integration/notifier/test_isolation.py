"""One bad row never stops the dispatcher: real PostgreSQL, real SMTP server.

A row whose message cannot be built (here the renderer of one template raises a plain
ValueError, standing for any bug or bad data) is marked failed with a NotificationFailed
and the others are sent; an infrastructure failure leaves the row due and ends the pass.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from relais_contracts import ids
from relais_contracts.catalogue import AnomalyType
from relais_contracts.topics.notifications import FailureReason, NotificationFailed
from relais_notifier.texts.rendering import RenderedEmail, RenderRequest
from tests.integration.conftest import eventually
from tests.integration.notifier.conftest import Harness, SmtpServer
from tests.integration.notifier.test_dispatch import PARIS_MORNING, fresh, plan_anomaly

SECRET_TEXT = "camille@example.com\r\nBcc: everyone"


def break_template(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, template: str, error: Exception
) -> None:
    """Make the renderer raise `error` for one template key, and only for it."""
    renderer = harness.dispatcher._renderer
    render = renderer.email

    def email(request: RenderRequest) -> RenderedEmail:
        if request.template == template:
            raise error
        return render(request)

    monkeypatch.setattr(renderer, "email", email)


async def template_of(harness: Harness, key: str) -> str:
    row = await harness.row(key)
    assert row is not None
    assert row["status"] == "pending"
    template: str = row["template"]
    return template


async def test_a_row_that_cannot_be_built_fails_alone_and_the_dispatcher_keeps_running(
    harness: Harness, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.clock.set(PARIS_MORNING - timedelta(minutes=1))
    bad_shipment, bad_email = fresh()
    bad = await plan_anomaly(
        harness,
        merchant_id="maison-lumiere",
        email=bad_email,
        shipment_id=bad_shipment,
        anomaly_type=AnomalyType.DAMAGED,
    )
    bad_key = ids.notification_key(bad.anomaly_id, "email", "initial")
    harness.clock.set(PARIS_MORNING)
    good_shipment, good_email = fresh()
    good = await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=good_email, shipment_id=good_shipment
    )
    good_key = ids.notification_key(good.anomaly_id, "email", "initial")
    bad_template = await template_of(harness, bad_key)
    assert await template_of(harness, good_key) != bad_template
    break_template(harness, monkeypatch, bad_template, ValueError(SECRET_TEXT))

    stop = asyncio.Event()
    task = asyncio.create_task(harness.dispatcher.run(stop))
    try:

        async def settled() -> bool:
            row = await harness.row(bad_key)
            return (
                bool(smtp.recorder.to(good_email))
                and row is not None
                and (row["status"] == "failed")
            )

        assert await eventually(settled, timeout_s=10, interval_s=0.05)
        # Planned after the failure, with the dispatcher still running: sent too.
        later_shipment, later_email = fresh()
        await plan_anomaly(
            harness, merchant_id="velocity-sports", email=later_email, shipment_id=later_shipment
        )

        async def later_sent() -> bool:
            return bool(smtp.recorder.to(later_email))

        assert await eventually(later_sent, timeout_s=10, interval_s=0.05)
        assert not task.done(), "the dispatcher is still running"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    assert smtp.recorder.to(bad_email) == []
    [message] = smtp.recorder.to(good_email)
    assert message["Subject"] == "Ta commande #10452 a du retard"
    row = await harness.row(bad_key)
    assert row is not None
    assert (row["status"], row["outcome_reason"]) == ("failed", "rendering_error")
    [failed] = await harness.outcomes(bad_shipment)
    assert isinstance(failed, NotificationFailed)
    assert failed.idempotency_key == bad_key
    assert failed.reason is FailureReason.RENDERING_ERROR
    assert failed.detail == "unexpected ValueError while preparing the message"
    assert [type(e).__name__ for e in await harness.outcomes(good_shipment)] == ["NotificationSent"]


async def test_an_infrastructure_failure_ends_the_pass_and_leaves_the_row_due(
    harness: Harness, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.clock.set(PARIS_MORNING)
    shipment_id, email = fresh()
    detected = await plan_anomaly(
        harness, merchant_id="velocity-sports", email=email, shipment_id=shipment_id
    )
    key = ids.notification_key(detected.anomaly_id, "email", "initial")
    template = await template_of(harness, key)
    break_template(harness, monkeypatch, template, ConnectionResetError("reset by peer"))

    with pytest.raises(ConnectionResetError):
        await harness.dispatcher.dispatch_due()
    row = await harness.row(key)
    assert row is not None
    assert row["status"] == "pending", "not the row's fault: it stays due"
    assert await harness.outcomes(shipment_id) == []

    monkeypatch.undo()
    await harness.dispatcher.dispatch_due()
    assert len(smtp.recorder.to(email)) == 1
    assert [type(e).__name__ for e in await harness.outcomes(shipment_id)] == ["NotificationSent"]


async def test_a_row_that_cannot_be_read_is_still_marked_failed(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(PARIS_MORNING)
    broken_shipment, broken_email = fresh()
    broken = await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=broken_email, shipment_id=broken_shipment
    )
    key = ids.notification_key(broken.anomaly_id, "email", "initial")
    # Facts no version of the code can read (the order number is required).
    await harness.pool.execute(
        "UPDATE notifications SET facts = '{\"parcel_index\": 1}' WHERE idempotency_key = $1", key
    )
    good_shipment, good_email = fresh()
    await plan_anomaly(
        harness, merchant_id="maison-lumiere", email=good_email, shipment_id=good_shipment
    )

    await harness.dispatcher.dispatch_due()
    await harness.dispatcher.dispatch_due()

    row: Any = await harness.row(key)
    assert (row["status"], row["outcome_reason"]) == ("failed", "rendering_error")
    assert smtp.recorder.to(broken_email) == []
    assert len(smtp.recorder.to(good_email)) == 1
