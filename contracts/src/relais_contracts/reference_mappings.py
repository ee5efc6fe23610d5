"""How AfterShip's and Karrio's tracking vocabularies map into the Relais taxonomy.

This is the executable form of DESIGN.md's requirement "ours must express everything
they express": every AfterShip tag and sub-status and every Karrio TrackingStatus and
TrackingIncidentReason has an entry here, a test checks that each entry is a valid
(status, substatus, incident) of relais_contracts.tracking, and docs/taxonomy.md is
generated from these tables. The tracker's generic (aggregator) adapter may use them.

Sources (read when this table was written):
- AfterShip delivery statuses and sub-statuses:
  https://www.aftership.com/docs/tracking/enum/delivery-statuses,
  https://www.aftership.com/docs/tracking/enum/delivery-sub-statuses (and the
  2026-07 version adding Delivered_005), and the help-centre note on the sub-statuses
  added in March 2026 (Exception_016 to Exception_021):
  https://tracking-helpcenter.aftership.com/en/article/learn-about-delivery-sub-status-1b0hdlx
  OutForDelivery_002 ("available for pickup at the sorting centre") appears in older
  versions of the list only.
- Karrio `TrackingStatus` and `TrackingIncidentReason`: karrioapi/karrio,
  modules/sdk/karrio/core/units.py (commit 6abf39222fd778e0b8f0b7027efdf9e920613b36).

Rule for codes not listed (an AfterShip sub-status added later): the tag's status
with its `<status>_unspecified` substatus (`aftership_fallback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from relais_contracts.tracking import (
    UNKNOWN_CODE_DEFAULT,
    UNSPECIFIED,
    IncidentReason,
    Substatus,
    TrackingStatus,
    status_of,
)

AFTERSHIP_SOURCES: Final = (
    "https://www.aftership.com/docs/tracking/enum/delivery-statuses",
    "https://www.aftership.com/docs/tracking/enum/delivery-sub-statuses",
    "https://www.aftership.com/docs/tracking/2026-07/enum/delivery-sub-statuses",
    "https://tracking-helpcenter.aftership.com/en/article/learn-about-delivery-sub-status-1b0hdlx",
)
KARRIO_SOURCE: Final = (
    "https://github.com/karrioapi/karrio/blob/6abf39222fd778e0b8f0b7027efdf9e920613b36/"
    "modules/sdk/karrio/core/units.py"
)


@dataclass(frozen=True)
class Mapped:
    substatus: Substatus
    incident: IncidentReason | None = None
    label: str = ""
    """What the source code means, in our words."""

    @property
    def status(self) -> TrackingStatus:
        return status_of(self.substatus)


_B = Substatus
_R = IncidentReason
_S = TrackingStatus

AFTERSHIP_TAGS: Final[dict[str, TrackingStatus]] = {
    "Pending": _S.PENDING,
    "InfoReceived": _S.INFO_RECEIVED,
    "InTransit": _S.IN_TRANSIT,
    "OutForDelivery": _S.OUT_FOR_DELIVERY,
    "AttemptFail": _S.FAILED_ATTEMPT,
    "AvailableForPickup": _S.AVAILABLE_FOR_PICKUP,
    "Delivered": _S.DELIVERED,
    "Exception": _S.EXCEPTION,
    "Expired": _S.EXPIRED,
}

AFTERSHIP_SUBTAGS: Final[dict[str, Mapped]] = {
    "Pending_001": Mapped(_B.PENDING_UNSPECIFIED, None, "no carrier information yet"),
    "Pending_002": Mapped(_B.PENDING_UNSPECIFIED, None, "pending (tracking system state)"),
    "Pending_003": Mapped(_B.PENDING_UNSPECIFIED, None, "pending (tracking system state)"),
    "Pending_004": Mapped(_B.PENDING_UNSPECIFIED, None, "pending (tracking system state)"),
    "Pending_005": Mapped(_B.PENDING_UNSPECIFIED, None, "pending (tracking system state)"),
    "Pending_006": Mapped(_B.PENDING_UNSPECIFIED, None, "pending (tracking system state)"),
    "InfoReceived_001": Mapped(_B.LABEL_CREATED, None, "shipper's request received"),
    "InTransit_001": Mapped(_B.IN_TRANSIT_UNSPECIFIED, None, "on the way"),
    "InTransit_002": Mapped(_B.ACCEPTED_BY_CARRIER, None, "acceptance scan"),
    "InTransit_003": Mapped(_B.ARRIVED_AT_FACILITY, None, "arrival scan"),
    "InTransit_004": Mapped(_B.ARRIVED_IN_DESTINATION_COUNTRY, None, "in destination country"),
    "InTransit_005": Mapped(_B.CUSTOMS_CLEARED, None, "customs clearance completed"),
    "InTransit_006": Mapped(_B.CUSTOMS_CLEARANCE_STARTED, None, "handed to customs"),
    "InTransit_007": Mapped(_B.DEPARTED_FACILITY, None, "departure scan"),
    "InTransit_008": Mapped(_B.PROBLEM_RESOLVED, None, "problem resolved"),
    "InTransit_009": Mapped(_B.REDIRECTED, None, "forwarded to another address"),
    "OutForDelivery_001": Mapped(_B.OUT_FOR_DELIVERY_UNSPECIFIED, None, "out for delivery"),
    "OutForDelivery_002": Mapped(_B.HELD_AT_DEPOT, None, "available at the sorting centre"),
    "OutForDelivery_003": Mapped(_B.CUSTOMER_CONTACTED, None, "customer contacted"),
    "OutForDelivery_004": Mapped(_B.DELIVERY_SCHEDULED, None, "appointment scheduled"),
    "AttemptFail_001": Mapped(_B.FAILED_ATTEMPT_UNSPECIFIED, None, "failed attempt"),
    "AttemptFail_002": Mapped(
        _B.RECIPIENT_ABSENT, _R.RECIPIENT_NOT_AVAILABLE, "addressee not available"
    ),
    "AttemptFail_003": Mapped(_B.BUSINESS_CLOSED, _R.RECIPIENT_BUSINESS_CLOSED, "business closed"),
    "AvailableForPickup_001": Mapped(_B.READY_FOR_PICKUP, None, "available for pickup"),
    "Delivered_001": Mapped(_B.DELIVERED_UNSPECIFIED, None, "delivered"),
    "Delivered_002": Mapped(_B.PICKED_UP_AT_PICKUP_POINT, None, "picked up by the customer"),
    "Delivered_003": Mapped(_B.SIGNED_FOR, None, "signed by the customer"),
    "Delivered_004": Mapped(_B.DELIVERED_CASH_ON_DELIVERY, None, "cash on delivery collected"),
    "Delivered_005": Mapped(_B.DELIVERED_TO_NEIGHBOUR, None, "delivered to a neighbour"),
    "Exception_001": Mapped(_B.EXCEPTION_UNSPECIFIED, None, "exception"),
    "Exception_002": Mapped(_B.CUSTOMER_MOVED, _R.RECIPIENT_MOVED, "customer moved"),
    "Exception_003": Mapped(
        _B.REFUSED_BY_RECIPIENT, _R.RECIPIENT_REFUSED, "customer refused delivery"
    ),
    "Exception_004": Mapped(_B.HELD_AT_CUSTOMS, _R.CUSTOMS_DELAY, "delayed by customs clearance"),
    "Exception_005": Mapped(_B.DELAYED_EXTERNAL, _R.FORCE_MAJEURE, "delayed by external factors"),
    "Exception_006": Mapped(_B.HELD_FOR_PAYMENT, _R.RECIPIENT_PAYMENT_DUE, "held for payment"),
    "Exception_007": Mapped(
        _B.INCORRECT_ADDRESS, _R.RECIPIENT_INCORRECT_ADDRESS, "incorrect address"
    ),
    "Exception_008": Mapped(_B.PICKUP_HOLD_EXPIRED, _R.RECIPIENT_PICKUP_MISSED, "pickup missed"),
    "Exception_009": Mapped(
        _B.REJECTED_BY_CARRIER, _R.RETAILER_NONCOMPLIANT_SHIPMENT, "rejected by the carrier"
    ),
    "Exception_010": Mapped(_B.RETURNING_TO_SENDER, None, "returning to sender"),
    "Exception_011": Mapped(_B.RETURNED_TO_SENDER, None, "returned to sender"),
    "Exception_012": Mapped(_B.DAMAGED, _R.CARRIER_DAMAGED_PARCEL, "shipment damaged"),
    "Exception_013": Mapped(_B.LOST, _R.CARRIER_PARCEL_LOST, "shipment lost"),
    "Exception_016": Mapped(
        _B.DELAYED_PROCESSING, _R.CARRIER_PROCESSING_DELAY, "delayed by a processing issue"
    ),
    "Exception_017": Mapped(_B.DELAYED_WEATHER, _R.WEATHER_DELAY, "delayed by extreme weather"),
    "Exception_018": Mapped(
        _B.HELD_AT_CUSTOMS, _R.CUSTOMS_DOCUMENTATION, "incorrect or missing documents"
    ),
    "Exception_019": Mapped(
        _B.DELAYED_PROCESSING, _R.CARRIER_TRANSPORT_DELAY, "delayed by a late flight"
    ),
    "Exception_020": Mapped(_B.CANCELLED, _R.RETAILER_CANCELLED, "shipment cancelled"),
    "Exception_021": Mapped(_B.DISPOSED, None, "shipment disposed of"),
    "Expired_001": Mapped(_B.EXPIRED_UNSPECIFIED, None, "no information for too long"),
}


def aftership_fallback(tag: str) -> Mapped:
    """A sub-status not in AFTERSHIP_SUBTAGS: its tag's status, unspecified."""
    return Mapped(UNSPECIFIED[AFTERSHIP_TAGS[tag]], None, "not listed: the tag's generic")


KARRIO_TRACKING_STATUS: Final[dict[str, Mapped]] = {
    "pending": Mapped(
        _B.INFO_RECEIVED_UNSPECIFIED, None, "label or order created, parcel not yet with carrier"
    ),
    "picked_up": Mapped(_B.ACCEPTED_BY_CARRIER, None, "picked up by the carrier"),
    "on_hold": Mapped(_B.HELD_BY_CARRIER, None, "on hold"),
    "cancelled": Mapped(_B.CANCELLED, None, "cancelled"),
    "delivered": Mapped(_B.DELIVERED_UNSPECIFIED, None, "delivered"),
    "in_transit": Mapped(_B.IN_TRANSIT_UNSPECIFIED, None, "in transit"),
    "delivery_failed": Mapped(_B.FAILED_ATTEMPT_UNSPECIFIED, None, "delivery failed"),
    "delivery_delayed": Mapped(_B.DELAYED, None, "delivery delayed"),
    "out_for_delivery": Mapped(_B.OUT_FOR_DELIVERY_UNSPECIFIED, None, "out for delivery"),
    "ready_for_pickup": Mapped(_B.READY_FOR_PICKUP, None, "ready for pickup"),
    "return_to_sender": Mapped(_B.RETURNING_TO_SENDER, None, "return to sender"),
    "unknown": Mapped(UNKNOWN_CODE_DEFAULT[1], None, "unknown: the safe default"),
}

KARRIO_INCIDENT_REASON: Final[dict[str, IncidentReason]] = {
    "carrier_damaged_parcel": _R.CARRIER_DAMAGED_PARCEL,
    "carrier_sorting_error": _R.CARRIER_SORTING_ERROR,
    "carrier_address_not_found": _R.CARRIER_ADDRESS_NOT_FOUND,
    "carrier_parcel_lost": _R.CARRIER_PARCEL_LOST,
    "carrier_not_enough_time": _R.CARRIER_NOT_ENOUGH_TIME,
    "carrier_vehicle_issue": _R.CARRIER_VEHICLE_ISSUE,
    "carrier_capacity_exceeded": _R.CARRIER_CAPACITY_EXCEEDED,
    "carrier_mechanical_delay": _R.CARRIER_MECHANICAL_DELAY,
    "retailer_cancelled": _R.RETAILER_CANCELLED,
    "retailer_incorrect_data": _R.RETAILER_INCORRECT_DATA,
    "retailer_not_ready": _R.RETAILER_NOT_READY,
    "retailer_incorrect_parcel": _R.RETAILER_INCORRECT_PARCEL,
    "retailer_incorrect_dimensions": _R.RETAILER_INCORRECT_DIMENSIONS,
    "retailer_packaging_issue": _R.RETAILER_PACKAGING_ISSUE,
    "consignee_refused": _R.RECIPIENT_REFUSED,
    "consignee_business_closed": _R.RECIPIENT_BUSINESS_CLOSED,
    "consignee_not_available": _R.RECIPIENT_NOT_AVAILABLE,
    "consignee_not_home": _R.RECIPIENT_NOT_HOME,
    "consignee_cancelled": _R.RECIPIENT_CANCELLED,
    "consignee_verification_failed": _R.RECIPIENT_VERIFICATION_FAILED,
    "consignee_incorrect_address": _R.RECIPIENT_INCORRECT_ADDRESS,
    "consignee_access_restricted": _R.RECIPIENT_ACCESS_RESTRICTED,
    "consignee_safe_place_unavailable": _R.RECIPIENT_SAFE_PLACE_UNAVAILABLE,
    "customs_delay": _R.CUSTOMS_DELAY,
    "customs_documentation": _R.CUSTOMS_DOCUMENTATION,
    "customs_duties_unpaid": _R.CUSTOMS_DUTIES_UNPAID,
    "customs_prohibited": _R.CUSTOMS_PROHIBITED,
    "customs_inspection": _R.CUSTOMS_INSPECTION,
    "weather_delay": _R.WEATHER_DELAY,
    "natural_disaster": _R.NATURAL_DISASTER,
    "force_majeure": _R.FORCE_MAJEURE,
    "parcel_being_researched": _R.PARCEL_BEING_RESEARCHED,
    "security_issue": _R.SECURITY_ISSUE,
    "regulatory_hold": _R.REGULATORY_HOLD,
    "unknown": _R.UNKNOWN,
}
