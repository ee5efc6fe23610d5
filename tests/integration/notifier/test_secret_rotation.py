"""Secret rotation through the notifier, on real PostgreSQL and SMTP (docs/security.md).

- an opt-out recorded through an unsubscribe link keeps suppressing messages while the
  customer link secrets rotate (new secret first, then the old one removed): opt-out
  hashes depend on the opt-out pepper only;
- rotating the pepper itself (RELAIS_OPT_OUT_PREVIOUS_PEPPERS) keeps the opt-out and the
  frequency cap: an opt-out found under the previous pepper is recorded again under the
  current one, so it still matches once the previous pepper is retired.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from pydantic import SecretStr

from relais_contracts.catalogue import AnomalyType
from relais_contracts.topics.notifications import (
    DeferralReason,
    NotificationDeferred,
    NotificationSent,
    NotificationSuppressed,
    SuppressionReason,
)
from relais_notifier.bootstrap import build_dispatcher, load_merchant_directory, make_links
from relais_notifier.service.dispatcher import Dispatcher
from relais_notifier.texts.rendering import Renderer
from relais_runtime.settings import secret_values
from tests.integration.notifier.conftest import Harness, SmtpServer
from tests.integration.notifier.test_dispatch import PARIS_MORNING, fresh, plan_anomaly

NEW_LINK_SECRET = "test-only-rotated-link-secret-0123456789ab"
NEW_PEPPER = "test-only-rotated-opt-out-pepper-012345678"


@asynccontextmanager
async def notifier_with(
    harness: Harness,
    *,
    link_secrets: tuple[str, ...] | None = None,
    pepper: str | None = None,
    previous_peppers: tuple[str, ...] = (),
) -> AsyncIterator[Dispatcher]:
    """The harness's notifier restarted with other secrets: same database, same clock."""
    settings = harness.settings
    settings = settings.model_copy(
        update={
            "customer_link_secrets": tuple(
                SecretStr(value)
                for value in link_secrets or secret_values(settings.customer_link_secrets)
            ),
            "opt_out_pepper": SecretStr(pepper) if pepper else settings.opt_out_pepper,
            "opt_out_previous_peppers": tuple(SecretStr(value) for value in previous_peppers),
        }
    )
    async with httpx.AsyncClient(timeout=5) as client:
        yield build_dispatcher(
            settings,
            pool=harness.pool,
            clock=harness.clock,
            merchants=load_merchant_directory(settings.merchants_dir),
            renderer=Renderer(),
            links=make_links(settings),
            client=client,
        )


async def unsubscribe(harness: Harness, smtp: SmtpServer, email: str) -> None:
    """The customer gets a message from the harness's notifier and unsubscribes."""
    await plan_anomaly(harness, merchant_id="maison-lumiere", email=email)
    await harness.dispatcher.dispatch_due()
    [message] = smtp.recorder.to(email)
    url = message["List-Unsubscribe"].strip("<>")
    async with httpx.AsyncClient() as client:
        done = await client.post(url, content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200


async def outcome_of_a_new_anomaly(
    harness: Harness, dispatcher: Dispatcher, email: str
) -> NotificationSent | NotificationSuppressed | NotificationDeferred:
    shipment_id = fresh()[0]
    await plan_anomaly(harness, merchant_id="maison-lumiere", email=email, shipment_id=shipment_id)
    await dispatcher.dispatch_due()
    [outcome] = await harness.outcomes(shipment_id)
    assert isinstance(outcome, NotificationSent | NotificationSuppressed | NotificationDeferred)
    return outcome


async def test_an_opt_out_survives_a_customer_link_secret_rotation(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(PARIS_MORNING)
    email = fresh()[1]
    await unsubscribe(harness, smtp, email)
    old = secret_values(harness.settings.customer_link_secrets)

    for link_secrets in ((NEW_LINK_SECRET, *old), (NEW_LINK_SECRET,)):  # rotating, rotated
        async with notifier_with(harness, link_secrets=link_secrets) as dispatcher:
            outcome = await outcome_of_a_new_anomaly(harness, dispatcher, email)
        assert isinstance(outcome, NotificationSuppressed), link_secrets
        assert outcome.reason is SuppressionReason.UNSUBSCRIBED
    assert len(smtp.recorder.to(email)) == 1


async def test_an_opt_out_survives_a_pepper_rotation_once_seen_under_both(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(PARIS_MORNING)
    email, control = fresh()[1], fresh()[1]
    await unsubscribe(harness, smtp, email)
    await unsubscribe(harness, smtp, control)

    # Without the previous pepper, the opt-out is not found: this is what the list prevents.
    async with notifier_with(harness, pepper=NEW_PEPPER) as dispatcher:
        assert isinstance(
            await outcome_of_a_new_anomaly(harness, dispatcher, control), NotificationSent
        )

    old_pepper = harness.settings.opt_out_pepper.get_secret_value()
    async with notifier_with(
        harness, pepper=NEW_PEPPER, previous_peppers=(old_pepper,)
    ) as dispatcher:
        outcome = await outcome_of_a_new_anomaly(harness, dispatcher, email)
    assert isinstance(outcome, NotificationSuppressed)
    assert outcome.reason is SuppressionReason.UNSUBSCRIBED

    # Seen once under both, the opt-out was recorded again under the new pepper: the old
    # pepper can go.
    async with notifier_with(harness, pepper=NEW_PEPPER) as dispatcher:
        outcome = await outcome_of_a_new_anomaly(harness, dispatcher, email)
    assert isinstance(outcome, NotificationSuppressed)
    assert outcome.reason is SuppressionReason.UNSUBSCRIBED
    assert len(smtp.recorder.to(email)) == 1
    async with harness.pool.acquire() as connection:
        dates = await connection.fetch(
            "SELECT created_at FROM opt_outs WHERE address_hash = ANY($1::text[])",
            list(
                make_links(
                    harness.settings.model_copy(
                        update={
                            "opt_out_pepper": SecretStr(NEW_PEPPER),
                            "opt_out_previous_peppers": (SecretStr(old_pepper),),
                        }
                    )
                ).hashes.address_hashes(merchant_id="maison-lumiere", address=email)
            ),
        )
    assert len(dates) == 2
    assert dates[0]["created_at"] == dates[1]["created_at"], "the opt-out keeps its date"


async def test_the_frequency_cap_holds_across_a_pepper_rotation(
    harness: Harness, smtp: SmtpServer
) -> None:
    harness.clock.set(PARIS_MORNING)
    _, email = fresh()
    first_sent_at = harness.clock.now()
    # velocity-sports allows 3 messages per customer per 24 h: 3 under the old pepper...
    for anomaly_type in (AnomalyType.DELIVERY_LATE, AnomalyType.STALLED, AnomalyType.REFUSED):
        await plan_anomaly(
            harness,
            merchant_id="velocity-sports",
            email=email,
            locale="en-GB",
            anomaly_type=anomaly_type,
        )
        await harness.dispatcher.dispatch_due()
        harness.clock.advance(timedelta(minutes=10))
    assert len(smtp.recorder.to(email)) == 3

    # ...and the 4th, decided under the new pepper, still counts them.
    old_pepper = harness.settings.opt_out_pepper.get_secret_value()
    async with notifier_with(
        harness, pepper=NEW_PEPPER, previous_peppers=(old_pepper,)
    ) as dispatcher:
        fourth = fresh()[0]
        await plan_anomaly(
            harness, merchant_id="velocity-sports", email=email, locale="en-GB", shipment_id=fourth
        )
        await dispatcher.dispatch_due()
    [deferred] = await harness.outcomes(fourth)
    assert isinstance(deferred, NotificationDeferred)
    assert deferred.reason is DeferralReason.FREQUENCY_CAP
    assert deferred.deliver_after == first_sent_at + timedelta(hours=24)
