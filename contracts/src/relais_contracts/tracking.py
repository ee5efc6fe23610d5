"""The normalized tracking taxonomy: status, substatus, incident reason and fault party.

Rules:
- every carrier event maps to exactly one `TrackingStatus` and one `Substatus`, and
  every substatus belongs to exactly one status (`status_of`);
- every status has a `<status>_unspecified` substatus for when the carrier says no
  more; an adapter that meets an unknown carrier code uses `UNKNOWN_CODE_DEFAULT`,
  flags the event `code_recognized=False`, counts it and logs the code;
- a problem carries an `Incident`: the reason and whose fault it is; every reason
  has a default fault party (`default_fault`) that an adapter may override when the
  carrier says otherwise;
- the vocabulary is closed: adding a member is a breaking change (new schema version).

contracts/docs/taxonomy.md is generated from this module (`relais contracts taxonomy`),
and reference_mappings.py shows that AfterShip's and Karrio's vocabularies map into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final, Self

from pydantic import AwareDatetime, Field, model_validator

from relais_contracts.common import CountryCode
from relais_contracts.envelope import Contract
from relais_contracts.text import OptionalSingleLine


class TrackingStatus(StrEnum):
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    EXPIRED = "expired"


STATUS_DESCRIPTIONS: Final[dict[TrackingStatus, str]] = {
    TrackingStatus.PENDING: "No carrier information yet (or not shipped yet).",
    TrackingStatus.INFO_RECEIVED: "The carrier has the shipment's data, not the parcel yet.",
    TrackingStatus.IN_TRANSIT: "The carrier has the parcel and it is on its way.",
    TrackingStatus.OUT_FOR_DELIVERY: "On the vehicle for delivery today.",
    TrackingStatus.FAILED_ATTEMPT: "A delivery attempt failed; the carrier usually tries again "
    "or leaves the parcel at a depot.",
    TrackingStatus.AVAILABLE_FOR_PICKUP: "Waiting for the customer at a pickup point, locker, "
    "post office or depot.",
    TrackingStatus.DELIVERED: "Handed over (to the recipient, a third party or a safe place) "
    "or collected.",
    TrackingStatus.EXCEPTION: "Something is wrong or late: held, delayed, refused, damaged, "
    "lost, returning or returned.",
    TrackingStatus.EXPIRED: "No carrier information for too long; tracking stopped.",
}


class Substatus(StrEnum):
    # pending
    PENDING_UNSPECIFIED = "pending_unspecified"
    AWAITING_SHIPMENT = "awaiting_shipment"
    # info_received
    INFO_RECEIVED_UNSPECIFIED = "info_received_unspecified"
    LABEL_CREATED = "label_created"
    PICKUP_SCHEDULED = "pickup_scheduled"
    # in_transit
    IN_TRANSIT_UNSPECIFIED = "in_transit_unspecified"
    ACCEPTED_BY_CARRIER = "accepted_by_carrier"
    ARRIVED_AT_FACILITY = "arrived_at_facility"
    DEPARTED_FACILITY = "departed_facility"
    ARRIVED_IN_DESTINATION_COUNTRY = "arrived_in_destination_country"
    CUSTOMS_CLEARANCE_STARTED = "customs_clearance_started"
    CUSTOMS_CLEARED = "customs_cleared"
    REDIRECTED = "redirected"
    DELIVERY_RESCHEDULED = "delivery_rescheduled"
    PROBLEM_RESOLVED = "problem_resolved"
    # out_for_delivery
    OUT_FOR_DELIVERY_UNSPECIFIED = "out_for_delivery_unspecified"
    CUSTOMER_CONTACTED = "customer_contacted"
    DELIVERY_SCHEDULED = "delivery_scheduled"
    # failed_attempt
    FAILED_ATTEMPT_UNSPECIFIED = "failed_attempt_unspecified"
    RECIPIENT_ABSENT = "recipient_absent"
    BUSINESS_CLOSED = "business_closed"
    ACCESS_RESTRICTED = "access_restricted"
    # available_for_pickup
    AVAILABLE_FOR_PICKUP_UNSPECIFIED = "available_for_pickup_unspecified"
    READY_FOR_PICKUP = "ready_for_pickup"
    HELD_AT_DEPOT = "held_at_depot"
    # delivered
    DELIVERED_UNSPECIFIED = "delivered_unspecified"
    DELIVERED_TO_RECIPIENT = "delivered_to_recipient"
    SIGNED_FOR = "signed_for"
    DELIVERED_TO_MAILBOX = "delivered_to_mailbox"
    DELIVERED_TO_SAFE_PLACE = "delivered_to_safe_place"
    DELIVERED_TO_NEIGHBOUR = "delivered_to_neighbour"
    DELIVERED_TO_RECEPTION = "delivered_to_reception"
    DELIVERED_TO_THIRD_PARTY = "delivered_to_third_party"
    PICKED_UP_AT_PICKUP_POINT = "picked_up_at_pickup_point"
    DELIVERED_CASH_ON_DELIVERY = "delivered_cash_on_delivery"
    DELIVERED_DAMAGED = "delivered_damaged"
    # exception
    EXCEPTION_UNSPECIFIED = "exception_unspecified"
    DELAYED = "delayed"
    DELAYED_WEATHER = "delayed_weather"
    DELAYED_PROCESSING = "delayed_processing"
    DELAYED_EXTERNAL = "delayed_external"
    HELD_AT_CUSTOMS = "held_at_customs"
    HELD_FOR_PAYMENT = "held_for_payment"
    HELD_BY_CARRIER = "held_by_carrier"
    CUSTOMER_MOVED = "customer_moved"
    INCORRECT_ADDRESS = "incorrect_address"
    INCOMPLETE_ADDRESS = "incomplete_address"
    REFUSED_BY_RECIPIENT = "refused_by_recipient"
    PICKUP_HOLD_EXPIRED = "pickup_hold_expired"
    REJECTED_BY_CARRIER = "rejected_by_carrier"
    RETURNING_TO_SENDER = "returning_to_sender"
    RETURNED_TO_SENDER = "returned_to_sender"
    DAMAGED = "damaged"
    LOST = "lost"
    CANCELLED = "cancelled"
    DISPOSED = "disposed"
    # expired
    EXPIRED_UNSPECIFIED = "expired_unspecified"


@dataclass(frozen=True)
class SubstatusInfo:
    status: TrackingStatus
    description: str
    final: bool = False
    """The shipment's story is over: no more carrier events are expected (stop polling)."""


_S = TrackingStatus
_B = Substatus

SUBSTATUSES: Final[dict[Substatus, SubstatusInfo]] = {
    _B.PENDING_UNSPECIFIED: SubstatusInfo(
        _S.PENDING, "Tracking number known, no carrier information yet."
    ),
    _B.AWAITING_SHIPMENT: SubstatusInfo(
        _S.PENDING, "Not handed to a carrier yet: the order has no tracking number."
    ),
    _B.INFO_RECEIVED_UNSPECIFIED: SubstatusInfo(
        _S.INFO_RECEIVED, "The carrier received the shipment's data."
    ),
    _B.LABEL_CREATED: SubstatusInfo(
        _S.INFO_RECEIVED, "Label printed; the parcel waits to be collected or dropped off."
    ),
    _B.PICKUP_SCHEDULED: SubstatusInfo(_S.INFO_RECEIVED, "A collection by the carrier is booked."),
    _B.IN_TRANSIT_UNSPECIFIED: SubstatusInfo(_S.IN_TRANSIT, "On its way."),
    _B.ACCEPTED_BY_CARRIER: SubstatusInfo(
        _S.IN_TRANSIT, "The carrier took the parcel (collected or dropped off)."
    ),
    _B.ARRIVED_AT_FACILITY: SubstatusInfo(
        _S.IN_TRANSIT, "Arrived at a hub, sorting centre or depot."
    ),
    _B.DEPARTED_FACILITY: SubstatusInfo(_S.IN_TRANSIT, "Left a hub, sorting centre or depot."),
    _B.ARRIVED_IN_DESTINATION_COUNTRY: SubstatusInfo(
        _S.IN_TRANSIT, "International parcel arrived in the destination country."
    ),
    _B.CUSTOMS_CLEARANCE_STARTED: SubstatusInfo(_S.IN_TRANSIT, "Handed to customs for clearance."),
    _B.CUSTOMS_CLEARED: SubstatusInfo(_S.IN_TRANSIT, "Customs clearance completed."),
    _B.REDIRECTED: SubstatusInfo(_S.IN_TRANSIT, "Forwarded to another address or pickup point."),
    _B.DELIVERY_RESCHEDULED: SubstatusInfo(
        _S.IN_TRANSIT, "Delivery moved to another day (by the recipient or the carrier)."
    ),
    _B.PROBLEM_RESOLVED: SubstatusInfo(
        _S.IN_TRANSIT, "An earlier problem is solved; the parcel moves again."
    ),
    _B.OUT_FOR_DELIVERY_UNSPECIFIED: SubstatusInfo(_S.OUT_FOR_DELIVERY, "Out for delivery."),
    _B.CUSTOMER_CONTACTED: SubstatusInfo(
        _S.OUT_FOR_DELIVERY, "The carrier contacted the recipient before delivering."
    ),
    _B.DELIVERY_SCHEDULED: SubstatusInfo(_S.OUT_FOR_DELIVERY, "A delivery appointment is booked."),
    _B.FAILED_ATTEMPT_UNSPECIFIED: SubstatusInfo(
        _S.FAILED_ATTEMPT, "Delivery attempt failed, reason not given."
    ),
    _B.RECIPIENT_ABSENT: SubstatusInfo(_S.FAILED_ATTEMPT, "Nobody there to receive it."),
    _B.BUSINESS_CLOSED: SubstatusInfo(
        _S.FAILED_ATTEMPT, "The business was closed at delivery time."
    ),
    _B.ACCESS_RESTRICTED: SubstatusInfo(
        _S.FAILED_ATTEMPT, "The courier could not reach the door (code, gate, security)."
    ),
    _B.AVAILABLE_FOR_PICKUP_UNSPECIFIED: SubstatusInfo(
        _S.AVAILABLE_FOR_PICKUP, "Available for pickup."
    ),
    _B.READY_FOR_PICKUP: SubstatusInfo(
        _S.AVAILABLE_FOR_PICKUP, "At the pickup point or locker the customer chose."
    ),
    _B.HELD_AT_DEPOT: SubstatusInfo(
        _S.AVAILABLE_FOR_PICKUP,
        "Held at a post office or carrier depot for collection, usually after a failed attempt.",
    ),
    _B.DELIVERED_UNSPECIFIED: SubstatusInfo(_S.DELIVERED, "Delivered.", final=True),
    _B.DELIVERED_TO_RECIPIENT: SubstatusInfo(
        _S.DELIVERED, "Handed to the recipient in person.", final=True
    ),
    _B.SIGNED_FOR: SubstatusInfo(
        _S.DELIVERED, "Delivered against the recipient's signature.", final=True
    ),
    _B.DELIVERED_TO_MAILBOX: SubstatusInfo(
        _S.DELIVERED, "Left in the recipient's letterbox.", final=True
    ),
    _B.DELIVERED_TO_SAFE_PLACE: SubstatusInfo(
        _S.DELIVERED, "Left at a safe place (door, garage, agreed spot).", final=True
    ),
    _B.DELIVERED_TO_NEIGHBOUR: SubstatusInfo(_S.DELIVERED, "Handed to a neighbour.", final=True),
    _B.DELIVERED_TO_RECEPTION: SubstatusInfo(
        _S.DELIVERED, "Handed to a reception, mail room, concierge or security desk.", final=True
    ),
    _B.DELIVERED_TO_THIRD_PARTY: SubstatusInfo(
        _S.DELIVERED, "Handed to someone other than the recipient.", final=True
    ),
    _B.PICKED_UP_AT_PICKUP_POINT: SubstatusInfo(
        _S.DELIVERED, "Collected by the customer at a pickup point, locker or depot.", final=True
    ),
    _B.DELIVERED_CASH_ON_DELIVERY: SubstatusInfo(
        _S.DELIVERED, "Delivered and cash on delivery collected.", final=True
    ),
    _B.DELIVERED_DAMAGED: SubstatusInfo(
        _S.DELIVERED, "Delivered, but the carrier recorded damage.", final=True
    ),
    _B.EXCEPTION_UNSPECIFIED: SubstatusInfo(_S.EXCEPTION, "A problem, reason not given."),
    _B.DELAYED: SubstatusInfo(_S.EXCEPTION, "Delayed, reason not given."),
    _B.DELAYED_WEATHER: SubstatusInfo(_S.EXCEPTION, "Delayed by weather."),
    _B.DELAYED_PROCESSING: SubstatusInfo(
        _S.EXCEPTION,
        "Delayed inside the carrier's network (sorting error, missed connection, vehicle, "
        "late flight, capacity).",
    ),
    _B.DELAYED_EXTERNAL: SubstatusInfo(
        _S.EXCEPTION, "Delayed by outside events (strike, disaster, public holiday)."
    ),
    _B.HELD_AT_CUSTOMS: SubstatusInfo(
        _S.EXCEPTION, "Held by customs (clearance delay, documents, inspection)."
    ),
    _B.HELD_FOR_PAYMENT: SubstatusInfo(
        _S.EXCEPTION, "Held until the recipient pays (duties, taxes, cash on delivery)."
    ),
    _B.HELD_BY_CARRIER: SubstatusInfo(
        _S.EXCEPTION, "On hold at the carrier (investigation, security or regulatory hold)."
    ),
    _B.CUSTOMER_MOVED: SubstatusInfo(_S.EXCEPTION, "The recipient no longer lives there."),
    _B.INCORRECT_ADDRESS: SubstatusInfo(
        _S.EXCEPTION, "The address is wrong or could not be found."
    ),
    _B.INCOMPLETE_ADDRESS: SubstatusInfo(
        _S.EXCEPTION, "The address lacks something (number, flat, door code)."
    ),
    _B.REFUSED_BY_RECIPIENT: SubstatusInfo(_S.EXCEPTION, "The recipient refused the parcel."),
    _B.PICKUP_HOLD_EXPIRED: SubstatusInfo(
        _S.EXCEPTION, "Not collected before the pickup point's hold deadline."
    ),
    _B.REJECTED_BY_CARRIER: SubstatusInfo(
        _S.EXCEPTION, "Refused by the carrier (does not meet its conditions)."
    ),
    _B.RETURNING_TO_SENDER: SubstatusInfo(_S.EXCEPTION, "On its way back to the merchant."),
    _B.RETURNED_TO_SENDER: SubstatusInfo(_S.EXCEPTION, "Back at the merchant.", final=True),
    _B.DAMAGED: SubstatusInfo(_S.EXCEPTION, "Damaged on its way."),
    _B.LOST: SubstatusInfo(
        _S.EXCEPTION, "Declared lost by the carrier (tracking continues in case it is found)."
    ),
    _B.CANCELLED: SubstatusInfo(
        _S.EXCEPTION, "Shipment voided or cancelled by the merchant or the carrier.", final=True
    ),
    _B.DISPOSED: SubstatusInfo(_S.EXCEPTION, "Destroyed or discarded.", final=True),
    _B.EXPIRED_UNSPECIFIED: SubstatusInfo(
        _S.EXPIRED, "No carrier information for too long; tracking stopped.", final=True
    ),
}

UNSPECIFIED: Final[dict[TrackingStatus, Substatus]] = {
    status: Substatus(f"{status.value}_unspecified") for status in TrackingStatus
}
"""The generic substatus of each status."""

UNKNOWN_CODE_DEFAULT: Final = (TrackingStatus.IN_TRANSIT, Substatus.IN_TRANSIT_UNSPECIFIED)
"""What an adapter records for a carrier code it does not know: a scan happened, nothing
more is claimed, so no anomaly is opened on a guess."""


def status_of(substatus: Substatus) -> TrackingStatus:
    return SUBSTATUSES[substatus].status


def substatuses_of(status: TrackingStatus) -> tuple[Substatus, ...]:
    return tuple(sub for sub, info in SUBSTATUSES.items() if info.status is status)


def is_final(substatus: Substatus) -> bool:
    """True when no further carrier event is expected for the shipment."""
    return SUBSTATUSES[substatus].final


def check_pair(status: TrackingStatus, substatus: Substatus) -> None:
    """Raise ValueError unless `substatus` belongs to `status`."""
    if status_of(substatus) is not status:
        raise ValueError(
            f"substatus {substatus.value!r} belongs to status "
            f"{status_of(substatus).value!r}, not {status.value!r}"
        )


class FaultParty(StrEnum):
    CARRIER = "carrier"
    RETAILER = "retailer"
    RECIPIENT = "recipient"
    CUSTOMS = "customs"
    FORCE_MAJEURE = "force_majeure"
    UNKNOWN = "unknown"


class IncidentReason(StrEnum):
    # carrier
    CARRIER_DAMAGED_PARCEL = "carrier_damaged_parcel"
    CARRIER_SORTING_ERROR = "carrier_sorting_error"
    CARRIER_ADDRESS_NOT_FOUND = "carrier_address_not_found"
    CARRIER_PARCEL_LOST = "carrier_parcel_lost"
    CARRIER_NOT_ENOUGH_TIME = "carrier_not_enough_time"
    CARRIER_VEHICLE_ISSUE = "carrier_vehicle_issue"
    CARRIER_CAPACITY_EXCEEDED = "carrier_capacity_exceeded"
    CARRIER_MECHANICAL_DELAY = "carrier_mechanical_delay"
    CARRIER_PROCESSING_DELAY = "carrier_processing_delay"
    CARRIER_TRANSPORT_DELAY = "carrier_transport_delay"
    # retailer (the merchant, as shipper)
    RETAILER_CANCELLED = "retailer_cancelled"
    RETAILER_INCORRECT_DATA = "retailer_incorrect_data"
    RETAILER_NOT_READY = "retailer_not_ready"
    RETAILER_INCORRECT_PARCEL = "retailer_incorrect_parcel"
    RETAILER_INCORRECT_DIMENSIONS = "retailer_incorrect_dimensions"
    RETAILER_PACKAGING_ISSUE = "retailer_packaging_issue"
    RETAILER_NONCOMPLIANT_SHIPMENT = "retailer_noncompliant_shipment"
    RETAILER_REQUESTED_RETURN = "retailer_requested_return"
    # recipient
    RECIPIENT_REFUSED = "recipient_refused"
    RECIPIENT_BUSINESS_CLOSED = "recipient_business_closed"
    RECIPIENT_NOT_AVAILABLE = "recipient_not_available"
    RECIPIENT_NOT_HOME = "recipient_not_home"
    RECIPIENT_CANCELLED = "recipient_cancelled"
    RECIPIENT_VERIFICATION_FAILED = "recipient_verification_failed"
    RECIPIENT_INCORRECT_ADDRESS = "recipient_incorrect_address"
    RECIPIENT_INCOMPLETE_ADDRESS = "recipient_incomplete_address"
    RECIPIENT_MOVED = "recipient_moved"
    RECIPIENT_ACCESS_RESTRICTED = "recipient_access_restricted"
    RECIPIENT_SAFE_PLACE_UNAVAILABLE = "recipient_safe_place_unavailable"
    RECIPIENT_PICKUP_MISSED = "recipient_pickup_missed"
    RECIPIENT_PAYMENT_DUE = "recipient_payment_due"
    # customs
    CUSTOMS_DELAY = "customs_delay"
    CUSTOMS_DOCUMENTATION = "customs_documentation"
    CUSTOMS_DUTIES_UNPAID = "customs_duties_unpaid"
    CUSTOMS_PROHIBITED = "customs_prohibited"
    CUSTOMS_INSPECTION = "customs_inspection"
    # force majeure
    WEATHER_DELAY = "weather_delay"
    NATURAL_DISASTER = "natural_disaster"
    FORCE_MAJEURE = "force_majeure"
    # unknown
    PARCEL_BEING_RESEARCHED = "parcel_being_researched"
    SECURITY_ISSUE = "security_issue"
    REGULATORY_HOLD = "regulatory_hold"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class IncidentReasonInfo:
    fault: FaultParty
    description: str


_F = FaultParty
_R = IncidentReason

INCIDENT_REASONS: Final[dict[IncidentReason, IncidentReasonInfo]] = {
    _R.CARRIER_DAMAGED_PARCEL: IncidentReasonInfo(
        _F.CARRIER, "Damaged while in the carrier's hands."
    ),
    _R.CARRIER_SORTING_ERROR: IncidentReasonInfo(_F.CARRIER, "Missorted or misrouted."),
    _R.CARRIER_ADDRESS_NOT_FOUND: IncidentReasonInfo(
        _F.CARRIER, "The courier could not find a valid address."
    ),
    _R.CARRIER_PARCEL_LOST: IncidentReasonInfo(_F.CARRIER, "Lost by the carrier."),
    _R.CARRIER_NOT_ENOUGH_TIME: IncidentReasonInfo(
        _F.CARRIER, "The courier ran out of time on the round."
    ),
    _R.CARRIER_VEHICLE_ISSUE: IncidentReasonInfo(_F.CARRIER, "Vehicle problem."),
    _R.CARRIER_CAPACITY_EXCEEDED: IncidentReasonInfo(_F.CARRIER, "Network over capacity."),
    _R.CARRIER_MECHANICAL_DELAY: IncidentReasonInfo(
        _F.CARRIER, "Mechanical failure (sorting machine, equipment)."
    ),
    _R.CARRIER_PROCESSING_DELAY: IncidentReasonInfo(
        _F.CARRIER, "Processing issue in the carrier's network, unspecified."
    ),
    _R.CARRIER_TRANSPORT_DELAY: IncidentReasonInfo(
        _F.CARRIER, "Missed or late connection (truck, flight)."
    ),
    _R.RETAILER_CANCELLED: IncidentReasonInfo(
        _F.RETAILER, "The merchant cancelled or voided the shipment."
    ),
    _R.RETAILER_INCORRECT_DATA: IncidentReasonInfo(
        _F.RETAILER, "The merchant sent wrong shipment data."
    ),
    _R.RETAILER_NOT_READY: IncidentReasonInfo(
        _F.RETAILER, "The parcel was not ready when the carrier came to collect it."
    ),
    _R.RETAILER_INCORRECT_PARCEL: IncidentReasonInfo(
        _F.RETAILER, "The parcel does not match what was announced."
    ),
    _R.RETAILER_INCORRECT_DIMENSIONS: IncidentReasonInfo(
        _F.RETAILER, "Declared size or weight is wrong."
    ),
    _R.RETAILER_PACKAGING_ISSUE: IncidentReasonInfo(_F.RETAILER, "Insufficient packaging."),
    _R.RETAILER_NONCOMPLIANT_SHIPMENT: IncidentReasonInfo(
        _F.RETAILER, "The shipment breaks the carrier's conditions (contents, size, label)."
    ),
    _R.RETAILER_REQUESTED_RETURN: IncidentReasonInfo(
        _F.RETAILER, "The merchant asked for the parcel back."
    ),
    _R.RECIPIENT_REFUSED: IncidentReasonInfo(_F.RECIPIENT, "The recipient refused it."),
    _R.RECIPIENT_BUSINESS_CLOSED: IncidentReasonInfo(_F.RECIPIENT, "The business was closed."),
    _R.RECIPIENT_NOT_AVAILABLE: IncidentReasonInfo(
        _F.RECIPIENT, "The recipient was not available."
    ),
    _R.RECIPIENT_NOT_HOME: IncidentReasonInfo(_F.RECIPIENT, "Nobody at home."),
    _R.RECIPIENT_CANCELLED: IncidentReasonInfo(
        _F.RECIPIENT, "The recipient cancelled the delivery."
    ),
    _R.RECIPIENT_VERIFICATION_FAILED: IncidentReasonInfo(
        _F.RECIPIENT, "Identity, age or code check failed."
    ),
    _R.RECIPIENT_INCORRECT_ADDRESS: IncidentReasonInfo(
        _F.RECIPIENT, "The address the customer gave is wrong."
    ),
    _R.RECIPIENT_INCOMPLETE_ADDRESS: IncidentReasonInfo(
        _F.RECIPIENT, "The address the customer gave is incomplete."
    ),
    _R.RECIPIENT_MOVED: IncidentReasonInfo(_F.RECIPIENT, "The recipient moved away."),
    _R.RECIPIENT_ACCESS_RESTRICTED: IncidentReasonInfo(
        _F.RECIPIENT, "No access to the door (code, gate)."
    ),
    _R.RECIPIENT_SAFE_PLACE_UNAVAILABLE: IncidentReasonInfo(
        _F.RECIPIENT, "The agreed safe place could not be used."
    ),
    _R.RECIPIENT_PICKUP_MISSED: IncidentReasonInfo(
        _F.RECIPIENT, "Not collected before the hold deadline."
    ),
    _R.RECIPIENT_PAYMENT_DUE: IncidentReasonInfo(
        _F.RECIPIENT, "The recipient has to pay (cash on delivery, fees) before delivery."
    ),
    _R.CUSTOMS_DELAY: IncidentReasonInfo(_F.CUSTOMS, "Customs clearance is slow."),
    _R.CUSTOMS_DOCUMENTATION: IncidentReasonInfo(
        _F.CUSTOMS, "Documents missing or wrong for customs."
    ),
    _R.CUSTOMS_DUTIES_UNPAID: IncidentReasonInfo(_F.CUSTOMS, "Duties or taxes unpaid."),
    _R.CUSTOMS_PROHIBITED: IncidentReasonInfo(_F.CUSTOMS, "Prohibited or restricted goods."),
    _R.CUSTOMS_INSPECTION: IncidentReasonInfo(_F.CUSTOMS, "Held for inspection."),
    _R.WEATHER_DELAY: IncidentReasonInfo(_F.FORCE_MAJEURE, "Weather."),
    _R.NATURAL_DISASTER: IncidentReasonInfo(_F.FORCE_MAJEURE, "Natural disaster."),
    _R.FORCE_MAJEURE: IncidentReasonInfo(
        _F.FORCE_MAJEURE, "Other events beyond anyone's control (strike, unrest, holiday)."
    ),
    _R.PARCEL_BEING_RESEARCHED: IncidentReasonInfo(
        _F.UNKNOWN, "The carrier is looking for the parcel."
    ),
    _R.SECURITY_ISSUE: IncidentReasonInfo(_F.UNKNOWN, "Security check or incident."),
    _R.REGULATORY_HOLD: IncidentReasonInfo(_F.UNKNOWN, "Held by a non-customs authority."),
    _R.UNKNOWN: IncidentReasonInfo(_F.UNKNOWN, "The carrier gave no reason."),
}


def default_fault(reason: IncidentReason) -> FaultParty:
    return INCIDENT_REASONS[reason].fault


class Incident(Contract):
    """Why something went wrong and whose fault it is."""

    reason: IncidentReason
    fault: FaultParty = Field(
        description="Usually default_fault(reason); an adapter may set another party when "
        "the carrier says so."
    )

    @classmethod
    def of(cls, reason: IncidentReason) -> Incident:
        return cls(reason=reason, fault=default_fault(reason))


class Location(Contract):
    """Where a carrier event happened; every part is optional."""

    city: OptionalSingleLine = Field(default=None, max_length=120)
    postal_code: OptionalSingleLine = Field(default=None, max_length=20)
    country: CountryCode | None = None
    facility: OptionalSingleLine = Field(
        default=None, max_length=200, description="Hub, depot or pickup point name."
    )


class DeliveryEstimate(Contract):
    """The carrier's latest estimate: a day, and a time window when the carrier gives one."""

    day: date = Field(description="Expected delivery day, in the destination's local calendar.")
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _window_ordered(self) -> Self:
        if (
            self.window_start is not None
            and self.window_end is not None
            and self.window_end <= self.window_start
        ):
            raise ValueError("estimate window must end after it starts")
        return self
