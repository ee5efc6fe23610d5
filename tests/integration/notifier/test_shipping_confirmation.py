"""The shipping confirmation as it leaves: Kafka in, the real SMTP server out.

The notifier runs in process with the production wiring; a shipment state (the
customer's contact) and a `shipped` milestone go through throw-away topics, and the
email is read back from the SMTP server: tracking number, carrier, promised date in
the customer's language and every item of the parcel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from email.message import EmailMessage

from relais_contracts.catalogue import Milestone
from relais_contracts.shipment import ShipmentItem
from relais_runtime.clock import ManualClock
from tests.conftest import Infrastructure
from tests.integration.conftest import eventually
from tests.integration.notifier import factories
from tests.integration.notifier.conftest import SmsProvider, SmtpServer
from tests.integration.notifier.running import running_notifier

STATE, ANOMALIES, RESULTS = (
    "relais.shipment-state.v1",
    "relais.anomalies.v1",
    "relais.action-results.v1",
)
ITEMS = (
    ShipmentItem(
        sku="LAMP", name="Lampe laiton", quantity=2, image_url="https://cdn.example/lamp.jpg"
    ),
    ShipmentItem(sku="VASE", name="Vase céramique", quantity=1),
)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


async def test_the_shipped_email_names_tracking_number_carrier_date_and_items(
    infrastructure: Infrastructure,
    schema: str,
    unique: str,
    new_topic: Callable[[str], Awaitable[str]],
    smtp: SmtpServer,
    sms_provider: SmsProvider,
) -> None:
    shipment_id = f"S-{unique}"
    email = f"shipped-{unique}@example.com"
    state = factories.state(merchant_id="velocity-sports", shipment_id=shipment_id, email=email)
    shipped = factories.milestone(
        merchant_id="velocity-sports", shipment_id=shipment_id, which=Milestone.SHIPPED
    )
    shipped = shipped.model_copy(
        update={
            "shipment": shipped.shipment.model_copy(
                update={
                    "carrier": "colissimo",
                    "tracking_number": "6A23456789012",
                    "promised_delivery_by": date(2026, 11, 5),
                    "items": ITEMS,
                }
            )
        }
    )
    topics = {
        name: await new_topic(f"test-{unique}-{name}") for name in (STATE, ANOMALIES, RESULTS)
    }
    async with running_notifier(
        infrastructure,
        schema=schema,
        unique=unique,
        topics=topics,
        smtp=smtp,
        sms_provider=sms_provider,
        clock=ManualClock(datetime(2026, 11, 2, 10, 0, tzinfo=UTC)),
    ) as publish:
        await publish(STATE, state)

        await publish(ANOMALIES, shipped)

        async def received() -> bool:
            return bool(smtp.recorder.to(email))

        assert await eventually(received, timeout_s=30)

    [message] = smtp.recorder.to(email)
    text, html = parts(message)
    assert message["Subject"] == f"Votre commande {shipped.shipment.order_number} est en route"
    assert "Numéro de suivi : 6A23456789012." in text
    assert "avec Colissimo" in text
    assert "au plus tard le jeudi 5 novembre 2026" in text
    assert "Lampe laiton \u00d7 2" in text
    assert "Vase céramique \u00d7 1" in text
    assert '<img src="https://cdn.example/lamp.jpg" alt="Lampe laiton"' in html
    assert "https://chat.test/" in html, "the tracking-page link"
