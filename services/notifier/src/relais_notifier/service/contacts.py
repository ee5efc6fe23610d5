"""The contact read model: the customer's contact as the newest shipment state gave it
(older versions never overwrite it), erased with the shipment (and the shipment's
messages anonymised)."""

from __future__ import annotations

from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_notifier import repository
from relais_notifier.domain.policy import Contact
from relais_runtime.db import DbConnection
from relais_runtime.outbox import forget_key


async def remember_contact(connection: DbConnection, event: ShipmentStateChanged) -> None:
    customer = event.customer
    await repository.update_contact(
        connection,
        merchant_id=event.merchant_id,
        shipment_id=event.shipment_id,
        version=event.version,
        contact=Contact(
            email=customer.email,
            phone=customer.phone,
            first_name=customer.first_name,
            customer_id=customer.customer_id,
            locale=customer.locale,
            time_zone=customer.time_zone,
        ),
    )


async def forget_contact(connection: DbConnection, *, merchant_id: str, shipment_id: str) -> None:
    """The shipment is erased: its contact goes, its messages are anonymised (pending ones
    suppressed), its events still in the outbox go. Opt-outs stay: they are keyed hashes
    of an address, kept so that the customer is never messaged again."""
    await repository.delete_contact(connection, merchant_id=merchant_id, shipment_id=shipment_id)
    await repository.update_notifications_erased(
        connection, merchant_id=merchant_id, shipment_id=shipment_id
    )
    await forget_key(connection, key=f"{merchant_id}/{shipment_id}".encode())
