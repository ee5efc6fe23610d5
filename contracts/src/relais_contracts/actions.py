"""What a merchant can be asked to do, with each action's parameters.

Rules:
- one model per action type, discriminated on `action`: the chat writes it in
  ResolutionChosen, the actions service copies it into ExecuteAction and into the
  merchant's webhook body (relais_contracts.webhooks) unchanged;
- amounts are in the order's currency; `amount=None` on a refund means the full
  order value, on store credit the merchant's configured default;
- parameters hold only what the customer chose: the order, shipment and anomaly
  travel beside them;
- `customer_reason` (reship, refund, store credit) is why the customer refused or sent
  back the parcel, when the chat asked (a closed reason, an optional comment); absent in
  records written before it existed and when nobody asked.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from relais_contracts.common import Money, PhoneE164, PickupPoint, PostalAddress, TimeSlot
from relais_contracts.envelope import Contract
from relais_contracts.privacy import PERSONAL
from relais_contracts.text import SINGLE_LINE, OptionalMultiLine
from relais_contracts.transcript import Transcript


class ActionType(StrEnum):
    RESHIP = "reship"
    REFUND = "refund"
    STORE_CREDIT = "store_credit"
    ADDRESS_CHANGE = "address_change"
    REDELIVERY = "redelivery"
    PICKUP_POINT_CHANGE = "pickup_point_change"
    RETURN_LABEL = "return_label"
    CALLBACK_TICKET = "callback_ticket"


Sku = Annotated[str, StringConstraints(min_length=1, max_length=64), SINGLE_LINE]


class ReturnReason(StrEnum):
    """Why the customer refused a parcel or had it sent back (a closed list)."""

    CHANGED_MIND = "changed_mind"
    ARRIVED_TOO_LATE = "arrived_too_late"
    DAMAGED_PACKAGING = "damaged_packaging"
    WRONG_ITEM = "wrong_item"
    NOT_ORDERED = "not_ordered"
    CUSTOMS_FEES = "customs_fees"
    OTHER = "other"


class CustomerReason(Contract):
    """The customer's answer to "why?": a closed reason and, if given, their own words."""

    reason: ReturnReason
    comment: OptionalMultiLine = Field(default=None, max_length=500, json_schema_extra=PERSONAL)


_CUSTOMER_REASON_DESCRIPTION = "Why the parcel was refused or sent back, when the customer said."


class ReshipRequest(Contract):
    """Send the goods again (a new parcel, a new shipment id from the merchant)."""

    action: Literal[ActionType.RESHIP] = ActionType.RESHIP
    skus: tuple[Sku, ...] = Field(default=(), description="Empty: the whole parcel.")
    address: PostalAddress | None = Field(
        default=None,
        description="A new address for the new parcel; None: the order's address.",
        json_schema_extra=PERSONAL,
    )
    customer_reason: CustomerReason | None = Field(
        default=None, description=_CUSTOMER_REASON_DESCRIPTION
    )


class RefundRequest(Contract):
    action: Literal[ActionType.REFUND] = ActionType.REFUND
    amount: Money | None = Field(default=None, description="None: the full order value.")
    skus: tuple[Sku, ...] = Field(default=(), description="The refunded items, if partial.")
    customer_reason: CustomerReason | None = Field(
        default=None, description=_CUSTOMER_REASON_DESCRIPTION
    )


class StoreCreditRequest(Contract):
    action: Literal[ActionType.STORE_CREDIT] = ActionType.STORE_CREDIT
    amount: Money | None = Field(default=None, description="None: the merchant's default.")
    customer_reason: CustomerReason | None = Field(
        default=None, description=_CUSTOMER_REASON_DESCRIPTION
    )


class AddressChangeRequest(Contract):
    """Correct the delivery address of the parcel on its way (carrier redirection)."""

    action: Literal[ActionType.ADDRESS_CHANGE] = ActionType.ADDRESS_CHANGE
    address: PostalAddress = Field(json_schema_extra=PERSONAL)


class RedeliveryRequest(Contract):
    action: Literal[ActionType.REDELIVERY] = ActionType.REDELIVERY
    day: date = Field(description="Requested delivery day, in the customer's time zone.")
    slot: TimeSlot | None = Field(default=None, description="Requested time window, if any.")


class PickupPointChangeRequest(Contract):
    action: Literal[ActionType.PICKUP_POINT_CHANGE] = ActionType.PICKUP_POINT_CHANGE
    pickup_point: PickupPoint


class ReturnLabelRequest(Contract):
    """Send the customer a prepaid return label (refused or unwanted parcel)."""

    action: Literal[ActionType.RETURN_LABEL] = ActionType.RETURN_LABEL
    reason: OptionalMultiLine = Field(default=None, max_length=500, json_schema_extra=PERSONAL)


class CallbackTicketRequest(Contract):
    """Open a ticket in the merchant's helpdesk: a human calls the customer back."""

    action: Literal[ActionType.CALLBACK_TICKET] = ActionType.CALLBACK_TICKET
    phone: PhoneE164 = Field(json_schema_extra=PERSONAL)
    slot: TimeSlot
    note: OptionalMultiLine = Field(default=None, max_length=1000, json_schema_extra=PERSONAL)
    transcript: Transcript = ()


ActionRequest = Annotated[
    ReshipRequest
    | RefundRequest
    | StoreCreditRequest
    | AddressChangeRequest
    | RedeliveryRequest
    | PickupPointChangeRequest
    | ReturnLabelRequest
    | CallbackTicketRequest,
    Field(discriminator="action"),
]
"""One action and its parameters, discriminated on `action`."""
