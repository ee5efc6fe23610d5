"""UPS code tables: what an activity's status type, activity code and status description
code mean, shared by the Track API reader (ups.py) and the Track Alert reader
(ups_alert.py).

An activity is resolved, most specific first:
1. its two-character `code`, in the appendix table its status `type` points to (a code
   means different things in different tables: `DP` is a departure scan in "Movement
   Scans", a manifest in "Manifest Codes");
2. its three-digit status description code (`statusCode` in the Track API,
   `descriptionCode` in Track Alert), when that code says more than its type;
3. its `type`, narrowed on UPS's standard English description (`TEXT_REFINEMENTS`).
A type no table knows is an unknown code (the safe default).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from relais_contracts.tracking import IncidentReason as R
from relais_contracts.tracking import Substatus as B
from relais_contracts.tracking import TrackingStatus as S
from relais_tracker.adapters.carriers._common import CodeMapping, Refinements, resolve

_OFD: Final = (S.OUT_FOR_DELIVERY, B.OUT_FOR_DELIVERY_UNSPECIFIED, None)
_READY: Final = (S.AVAILABLE_FOR_PICKUP, B.READY_FOR_PICKUP, None)
_AT_DEPOT: Final = (S.AVAILABLE_FOR_PICKUP, B.HELD_AT_DEPOT, None)
_ABSENT: Final = (S.FAILED_ATTEMPT, B.RECIPIENT_ABSENT, R.RECIPIENT_NOT_AVAILABLE)
_CLOSED: Final = (S.FAILED_ATTEMPT, B.BUSINESS_CLOSED, R.RECIPIENT_BUSINESS_CLOSED)
_ATTEMPTED: Final = (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.UNKNOWN)
_NO_ID: Final = (S.FAILED_ATTEMPT, B.FAILED_ATTEMPT_UNSPECIFIED, R.RECIPIENT_VERIFICATION_FAILED)
_REFUSED: Final = (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_REFUSED)
_INCORRECT: Final = (S.EXCEPTION, B.INCORRECT_ADDRESS, R.RECIPIENT_INCORRECT_ADDRESS)
_INCOMPLETE: Final = (S.EXCEPTION, B.INCOMPLETE_ADDRESS, R.RECIPIENT_INCOMPLETE_ADDRESS)
_MOVED: Final = (S.EXCEPTION, B.CUSTOMER_MOVED, R.RECIPIENT_MOVED)
_DAMAGED: Final = (S.EXCEPTION, B.DAMAGED, R.CARRIER_DAMAGED_PARCEL)
_WEATHER: Final = (S.EXCEPTION, B.DELAYED_WEATHER, R.WEATHER_DELAY)
_DELAYED: Final = (S.EXCEPTION, B.DELAYED, R.UNKNOWN)
_LATE_TRANSPORT: Final = (S.EXCEPTION, B.DELAYED_PROCESSING, R.CARRIER_TRANSPORT_DELAY)
_MISSORTED: Final = (S.EXCEPTION, B.DELAYED_PROCESSING, R.CARRIER_SORTING_ERROR)
_MECHANICAL: Final = (S.EXCEPTION, B.DELAYED_PROCESSING, R.CARRIER_MECHANICAL_DELAY)
_CLEARANCE_INFO: Final = (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DOCUMENTATION)
_DUTIES: Final = (S.EXCEPTION, B.HELD_FOR_PAYMENT, R.CUSTOMS_DUTIES_UNPAID)
_PAYMENT: Final = (S.EXCEPTION, B.HELD_FOR_PAYMENT, R.RECIPIENT_PAYMENT_DUE)
_AGENCY_HOLD: Final = (S.EXCEPTION, B.HELD_BY_CARRIER, R.REGULATORY_HOLD)
_RESEARCHED: Final = (S.EXCEPTION, B.HELD_BY_CARRIER, R.PARCEL_BEING_RESEARCHED)
_RETURNING: Final = (S.EXCEPTION, B.RETURNING_TO_SENDER, R.UNKNOWN)
_SENDER_RETURN: Final = (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RETAILER_REQUESTED_RETURN)
_RETURNED: Final = (S.EXCEPTION, B.RETURNED_TO_SENDER, R.UNKNOWN)
_NOT_COLLECTED: Final = (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_PICKUP_MISSED)
_PROHIBITED: Final = (S.EXCEPTION, B.REJECTED_BY_CARRIER, R.RETAILER_NONCOMPLIANT_SHIPMENT)
_RESCHEDULED: Final = (S.IN_TRANSIT, B.DELIVERY_RESCHEDULED, None)
_REDIRECTED: Final = (S.IN_TRANSIT, B.REDIRECTED, None)
_ACCEPTED: Final = (S.IN_TRANSIT, B.ACCEPTED_BY_CARRIER, None)
_ARRIVED: Final = (S.IN_TRANSIT, B.ARRIVED_AT_FACILITY, None)
_DEPARTED: Final = (S.IN_TRANSIT, B.DEPARTED_FACILITY, None)
_LABEL: Final = (S.INFO_RECEIVED, B.LABEL_CREATED, None)
_SAFE_PLACE: Final = (S.DELIVERED, B.DELIVERED_TO_SAFE_PLACE, None)
_RECEPTION: Final = (S.DELIVERED, B.DELIVERED_TO_RECEPTION, None)
_PICKED_UP: Final = (S.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT, None)

# Source: UPS Tracking API appendix, "Package Activity Types"
# (https://developer.ups.com/api/reference/tracking/appendix, as vendored in karrio
# modules/connectors/ups/vendors/Tracking-package-activity-types.html) and the Track
# Alert API (UPS-API/api-documentation UPSTrackAlert.yaml, TrackingEventRequest
# activityStatus.type): D delivered, I in transit / out for delivery, M billing
# information received, MV billing information voided, X exception, DO/DD delivered to
# origin/destination CFS and W warehousing (freight), NA not available, U updated
# delivery date or time (Track Alert only); RS returned to shipper and P pickup are the
# older Track XML types some responses still carry. Karrio (units.py TrackingStatus)
# knows only X, MP, D, RS and OT.
TYPES: Final[dict[str, CodeMapping]] = {
    "M": _LABEL,
    "MV": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),
    "P": _ACCEPTED,
    "I": (S.IN_TRANSIT, B.IN_TRANSIT_UNSPECIFIED, None),
    "O": _OFD,
    "D": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),
    "X": (S.EXCEPTION, B.EXCEPTION_UNSPECIFIED, R.UNKNOWN),
    "RS": (S.EXCEPTION, B.RETURNED_TO_SENDER, R.UNKNOWN),
    "DO": _ARRIVED,
    "DD": _ARRIVED,
    "W": _ARRIVED,
    "NA": (S.PENDING, B.PENDING_UNSPECIFIED, None),
    "U": _RESCHEDULED,
}

# Source: UPS Tracking API appendix, "Movement Scans" (ULD codes, with UPS's own
# explanation of each: OD "loaded on delivery vehicle for delivery", OF/OT "out for
# delivery (should be delivered today)", YI "out for delivery to UPS Access Point").
MOVEMENT_SCANS: Final[dict[str, CodeMapping]] = {
    "OR": _ACCEPTED,  # Origin scan: the first time UPS sees the package
    "PU": _ACCEPTED,  # Pickup scan
    "PC": _ACCEPTED,  # Pickup by UPS package car
    "PT": _ACCEPTED,  # Pickup by UPS trailer
    "XD": _ACCEPTED,  # Drop off (UPS Store)
    "PL": _LABEL,  # Shipper created a label, UPS has not received the package yet
    "SP": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),  # Scheduled for pickup today
    "VP": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),  # Void pickup
    "AR": _ARRIVED,  # Arrival scan
    "DS": _ARRIVED,  # Destination scan: last UPS building before delivery
    "HU": _ARRIVED,  # Hub scan
    "UL": _ARRIVED,  # Unload scan
    "WH": _ARRIVED,  # Warehouse scan
    "DP": _DEPARTED,  # Departure scan
    "EP": _DEPARTED,  # Export scan
    "IP": (S.IN_TRANSIT, B.ARRIVED_IN_DESTINATION_COUNTRY, None),  # Import scan
    "OD": _OFD,  # Loaded on delivery vehicle
    "OF": _OFD,  # Out for delivery
    "OT": _OFD,  # Out for delivery
    "YF": _OFD,  # USPS out for delivery
    "YI": _OFD,  # Out for delivery to UPS Access Point
}

# Source: UPS Tracking API appendix, "Delivery Codes" (DIALS codes: where and how a
# package was left, or why it was not delivered).
DELIVERY_CODES: Final[dict[str, CodeMapping]] = {
    "1N": _READY,  # Delivered to a locker and awaiting customer pickup
    "2Q": _READY,  # Delivered to UPS Access Point
    "2W": _PICKED_UP,  # Package picked up at UPS Access Point
    "A0": _PICKED_UP,  # Package picked up at USPS facility
    "5F": _NOT_COLLECTED,  # Recipient did not collect; Access Point returned it
    "EP": _AT_DEPOT,  # SurePost delivered to the Post Office, held for pickup
    "ZI": _AT_DEPOT,  # Left at UPS retail location
    "ZQ": _AT_DEPOT,  # Being held for collection
    "B0": _RETURNED,  # Package delivered to original sender
    "3H": (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None),  # Neighbor - by request
    "3F": _SAFE_PLACE,  # Other location at address
    "ML": _SAFE_PLACE,  # Front door
    "MM": _SAFE_PLACE,  # Rear door
    "MN": _SAFE_PLACE,  # Side door
    "MP": _SAFE_PLACE,  # Garage
    "MQ": _SAFE_PLACE,  # Porch
    "MR": _SAFE_PLACE,  # Deck
    "MS": _SAFE_PLACE,  # Patio
    "MW": _SAFE_PLACE,  # Carport
    "ZF": _SAFE_PLACE,  # Shed
    "NL": _SAFE_PLACE,  # Left in a delivery bag, as requested
    "MU": (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None),  # Mailbox
    "AI": _RECEPTION,  # Dock
    "M3": _RECEPTION,  # Front desk
    "M4": _RECEPTION,  # Reception
    "M5": _RECEPTION,  # Mail room
    "M8": _RECEPTION,  # Guard
    "M9": _RECEPTION,  # Door person
    "ME": _RECEPTION,  # Receiving office
    "OZ": _RECEPTION,  # Security office, as requested
    "ZG": _RECEPTION,  # Concierge
    "MG": (S.DELIVERED, B.DELIVERED_TO_RECIPIENT, None),  # Met customer
    "F7": (S.DELIVERED, B.DELIVERED_TO_THIRD_PARTY, None),  # SurePost delivered to an agent
    "CI": _ABSENT,  # Not in
    "BI": _CLOSED,  # Closed
    "FO": _CLOSED,  # Closed early
    "50": _INCORRECT,  # Not delivered - incorrect address
    "BO": _INCORRECT,  # Incorrect address
    "DZ": _INCOMPLETE,  # Not delivered - room number needed
    "53": _REFUSED,  # Receiver refused package
    "28": _DAMAGED,  # Damaged package held at transit location
    "CR": _WEATHER,  # Delay - local weather
    "EJ": _WEATHER,  # Delay - local weather
    "EK": _LATE_TRANSPORT,  # Package missed scheduled connection
    "70": (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None),  # Awaiting customs clearance
    "BN": (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None),  # Package has cleared customs
}

# Source: UPS Tracking API appendix, "Package Exceptions" (the `code` of an X activity);
# the codes for the signals Relais reports (attempts, pickup, address, refusal, damage,
# customs, delay, return). Other exception codes keep the X type and its refinements.
EXCEPTION_CODES: Final[dict[str, CodeMapping]] = {
    "48": _ABSENT,  # Receiver not available; second attempt next business day
    "49": _ABSENT,  # Receiver not available at the final attempt
    "C4": _ABSENT,  # Receiver not available at the time of the delivery attempt
    "OH": _ABSENT,  # No one was available to accept the delivery
    "KX": _ABSENT,  # We missed you again; final attempt next business day
    "AX": _ABSENT,  # The receiver is on vacation
    "55": _CLOSED,  # Receiving business was closed
    "AY": _CLOSED,  # Business closed at the final attempt
    "G3": _CLOSED,  # Business closed; second attempt next business day
    "L1": _CLOSED,  # Business closed again; final attempt next business day
    "95": (S.FAILED_ATTEMPT, B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED),
    "G7": _NO_ID,  # Adult signature needed; second attempt
    "FM": _NO_ID,  # Adult signature needed; final attempt
    "G8": _NO_ID,  # No adult signature; not delivered
    "IQ": _NO_ID,  # Receiver unable to provide a valid PIN
    "IR": _NO_ID,  # No valid PIN at the final attempt
    "51": _PAYMENT,  # Unable to receive payment; second attempt
    "KZ": _PAYMENT,  # Unable to receive payment; final attempt
    "89": _ATTEMPTED,  # Unable to deliver; on the way to a UPS Access Point for pickup
    "2X": _ATTEMPTED,  # Unable to deliver; on the way to a UPS Access Point for pickup
    "5R": _ATTEMPTED,  # Unable to deliver; on the way to a UPS Access Point for pickup
    "6R": _ATTEMPTED,  # Unable to deliver; to a UPS Access Point next business day
    "ZP": _READY,  # Delivered to UPS Access Point and awaiting customer pickup
    "I5": _READY,  # At a UPS Access Point awaiting customer collection
    "5G": _READY,  # Remains at the Access Point, nearing the maximum hold days
    "54": _AT_DEPOT,  # Receiver will pick up at a UPS facility within 5 days
    "O5": _AT_DEPOT,  # Receiver will pick up at a UPS facility
    "O8": _AT_DEPOT,  # Receiver arranged to pick up at a UPS facility
    "UE": _AT_DEPOT,  # Held at the UPS facility for pickup
    "39": _AT_DEPOT,  # Sender requested a hold for pickup at a UPS facility
    "FT": _PICKED_UP,  # The receiver has picked up their package
    "ZS": _OFD,  # Out for delivery to UPS Access Point
    "RK": _OFD,  # Out for delivery today
    "RL": _OFD,  # Out for delivery
    "3N": _NOT_COLLECTED,  # Not picked up at the Access Point; returned to sender
    "6C": (S.EXCEPTION, B.PICKUP_HOLD_EXPIRED, R.RECIPIENT_PICKUP_MISSED),
    "A7": _MOVED,  # The receiver has moved
    "DW": _MOVED,  # The delivery location is vacant
    "C8": _MOVED,  # The receiver is no longer in business
    "AC": _INCORRECT,  # City name incorrect
    "AD": _INCORRECT,  # Company or receiver name incorrect
    "AE": _INCORRECT,  # Street number incorrect
    "AF": _INCORRECT,  # Street name incorrect
    "AK": _INCORRECT,  # State incorrect
    "AL": _INCORRECT,  # Postal code incorrect
    "A8": _INCOMPLETE,  # Apartment number missing or incorrect
    "AA": _INCOMPLETE,  # Suite number missing or incorrect
    "AG": _INCOMPLETE,  # The address is incomplete
    "E1": _INCOMPLETE,  # Floor number missing or incorrect
    "H5": _INCOMPLETE,  # Incomplete address information
    "CY": _INCOMPLETE,  # Unable to obtain complete address information
    "KT": _REFUSED,  # The receiver refused the delivery
    "KR": _REFUSED,  # The receiver does not want the product
    "KS": _REFUSED,  # The receiver states the product was not ordered
    "AM": (S.EXCEPTION, B.REFUSED_BY_RECIPIENT, R.RECIPIENT_CANCELLED),
    "AS": _REFUSED,  # Product order late; refused
    "KQ": _REFUSED,  # Refused, the package appeared damaged
    "13": _DAMAGED,  # Damage is being held at transit hub
    "45": _DAMAGED,  # Damaged in transit
    "HR": _DAMAGED,  # Damaged in transit
    "TV": _DAMAGED,  # Damaged in transit - chemical / liquid
    "25": _DAMAGED,  # Merchandise missing, balance is being delivered
    "HE": (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL),
    "64": (S.DELIVERED, B.DELIVERED_DAMAGED, R.CARRIER_DAMAGED_PARCEL),
    "24": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.CARRIER_DAMAGED_PARCEL),
    "A1": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.CARRIER_DAMAGED_PARCEL),
    "DL": _RETURNING,  # The package will be returned to the sender
    "KP": _RETURNING,  # The package will be returned to the sender
    "O4": _RETURNING,  # The package will be returned to the sender
    "UF": _RETURNING,  # Returning this package to the sender
    "CS": _SENDER_RETURN,  # Shipper requested return of package
    "I1": _SENDER_RETURN,  # Returned as requested by the sender
    "TU": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.RECIPIENT_INCOMPLETE_ADDRESS),
    "90": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.CUSTOMS_PROHIBITED),  # Embargo
    "UA": _RETURNED,  # UPS has returned your package to the sender
    "PP": _RETURNED,  # Returned to the sender using the package return label
    "29": _CLEARANCE_INFO,  # UPS contacted the receiver/importer for clearance information
    "40": _CLEARANCE_INFO,  # UPS contacted the sender for clearance information
    "43": _CLEARANCE_INFO,  # UPS contacted the sender for details to clear customs
    "B9": _CLEARANCE_INFO,  # A missing commercial invoice is causing a delay
    "1C": _DUTIES,  # Import charges are due
    "7F": _DUTIES,  # Import charges are due
    "EY": _DUTIES,  # Import C.O.D. charges are due
    "5": _AGENCY_HOLD,  # Pending release from a Government Agency
    "1U": _AGENCY_HOLD,  # Pending release from a Government Agency
    "2A": _WEATHER,  # Recent weather has caused delivery delays
    "7V": _WEATHER,  # Emergency situation or severe weather
    "7W": _WEATHER,  # Severe weather conditions
    "C5": _WEATHER,  # Emergency situation or severe weather
    "DJ": _WEATHER,  # Severe weather conditions
    "PZ": _WEATHER,  # Severe weather conditions
    "3D": _WEATHER,  # Weather permitting
    "B1": (S.EXCEPTION, B.DELAYED_EXTERNAL, R.FORCE_MAJEURE),  # Labor strike
    "DG": (S.EXCEPTION, B.DELAYED_EXTERNAL, R.FORCE_MAJEURE),  # Civil demonstration
    "AZ": (S.EXCEPTION, B.DELAYED_EXTERNAL, R.FORCE_MAJEURE),  # Holiday closures
    "DF": (S.EXCEPTION, B.DELAYED_EXTERNAL, R.NATURAL_DISASTER),  # Natural disaster
    "3": _LATE_TRANSPORT,  # Missed the scheduled transfer time
    "17": _LATE_TRANSPORT,  # Late UPS trailer arrival
    "18": _LATE_TRANSPORT,  # Late flight
    "1K": _LATE_TRANSPORT,  # Late flight
    "DC": _LATE_TRANSPORT,  # Arrived late to the destination city
    "6": _MISSORTED,  # Misrouted
    "7": _MISSORTED,  # Misrouted
    "34": _MISSORTED,  # Incorrectly sorted
    "D1": _MISSORTED,  # Misrouted
    "16": _MECHANICAL,  # Mechanical failure
    "68": _MECHANICAL,  # Mechanical failure
    "8": _DELAYED,  # Operating conditions; may be delayed
    "1B": _DELAYED,  # Delayed in transit; delivery will be rescheduled
    "1X": _DELAYED,  # Your package is delayed
    "G6": (S.EXCEPTION, B.HELD_BY_CARRIER, R.SECURITY_ISSUE),  # Security check
    "S9": _RESEARCHED,  # Sent to UPS lost and found
    "TJ": _RESEARCHED,  # Sent to UPS Lost and Found
    "UO": _RESEARCHED,  # Lost package investigation
    "UP": _RESEARCHED,  # Attempting to verify the package location
    "8D": (S.EXCEPTION, B.DISPOSED, R.UNKNOWN),  # Undeliverable, being disposed of
    "1F": (S.EXCEPTION, B.DISPOSED, R.REGULATORY_HOLD),  # Destroyed per agency instruction
    "73": _PROHIBITED,  # Articles UPS prohibits for international shipping
    "DP": _PROHIBITED,  # Commodity that cannot be shipped internationally
    "TX": _PROHIBITED,  # Generally prohibited item
    "2": _RESCHEDULED,  # Your delivery will be rescheduled
    "14": _RESCHEDULED,  # Service changed; delivery rescheduled
    "TH": _RESCHEDULED,  # Rescheduled for the next business day
    "O6": _RESCHEDULED,  # We've rescheduled this delivery
    "X0": (S.IN_TRANSIT, B.PROBLEM_RESOLVED, None),  # The hold has been resolved
}

# Source: UPS Tracking API appendix, "Manifest Codes" (M activities) and "Updates"
# (U activities, Track Alert only).
MANIFEST_AND_UPDATE_CODES: Final[dict[str, CodeMapping]] = {
    "VP": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),  # Manifest cancelled, voided
    "UP": _RESCHEDULED,  # Updated delivery date
    "UT": _RESCHEDULED,  # Updated delivery time
    "PX": (S.DELIVERED, B.DELIVERED_UNSPECIFIED, None),  # Delivery photo
}

# Source: UPS Tracking API appendix, "Status/Description Codes" (the three-digit
# `statusCode` of a Track API activity, `descriptionCode` of a Track Alert event), keyed
# without leading zeros. Codes that only repeat their type ("On the Way", "Delivered",
# "Exception") are left out so the type and its refinements decide.
STATUS_DESCRIPTION_CODES: Final[dict[str, CodeMapping]] = {
    "3": _LABEL,  # Shipment Ready for UPS
    "80": _LABEL,  # Order Processed: Ready for UPS
    "157": _LABEL,  # Shipment Ready for UPS
    "166": _LABEL,  # Shipment Ready for Roadie
    "7": (S.EXCEPTION, B.CANCELLED, R.RETAILER_CANCELLED),  # Shipment Information Voided
    "77": (S.INFO_RECEIVED, B.PICKUP_SCHEDULED, None),  # Scheduled for Pickup Today
    "38": _ACCEPTED,  # Picked Up by UPS
    "160": _ACCEPTED,  # We Have Your Package
    "167": _ACCEPTED,  # Dropped off at UPS Store by Customer
    "168": _ACCEPTED,  # Dropped off at Retail Location by Customer
    "169": _ACCEPTED,  # Dropped off at a UPS Access Point by Customer
    "16": _ARRIVED,  # In Warehouse
    "12": (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None),  # Clearance in Progress
    "92": (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None),  # Customs Clearance in Progress
    "14": (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None),  # Clearance Completed
    "84": (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None),  # Cleared
    "134": (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None),  # Cleared Import Customs
    "58": _CLEARANCE_INFO,  # Clearance Information Required
    "124": _CLEARANCE_INFO,  # Clearance Information Needed
    "125": _CLEARANCE_INFO,  # Clearance Information Needed
    "123": (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY),  # Pending non-UPS broker
    "126": _AGENCY_HOLD,  # Pending Government Agency Release
    "6": _OFD,  # Out for Delivery
    "21": _OFD,  # Out for Delivery
    "37": _OFD,  # Out for Delivery
    "72": _OFD,  # Loaded on Delivery Vehicle
    "78": _OFD,  # Your Driver is Arriving Soon!
    "89": _OFD,  # Out for Delivery
    "91": _OFD,  # Out for Delivery
    "146": _OFD,  # Out for Delivery
    "162": _OFD,  # Out for Delivery
    "17": _AT_DEPOT,  # Held for Customer Pickup
    "144": _AT_DEPOT,  # Delivered to Post Office for Pickup
    "40": _READY,  # Ready for Customer Pickup
    "161": _READY,  # Delivered to UPS Access Point
    "143": (S.DELIVERED, B.DELIVERED_TO_THIRD_PARTY, None),  # Delivered to Agent
    "22": _ATTEMPTED,  # First Attempt Made
    "23": _ATTEMPTED,  # Second Delivery Attempted
    "24": _ATTEMPTED,  # Final Attempt Made
    "60": _ATTEMPTED,  # Delivery Attempted
    "66": _ATTEMPTED,  # Post Office Delivery Attempted
    "69": _ATTEMPTED,  # Unable to Deliver
    "145": _ATTEMPTED,  # Delivery Attempted
    "61": _NO_ID,  # Delivery Attempted: Adult Signature Required
    "62": _PAYMENT,  # Delivery Attempted: Funds Required
    "85": _PAYMENT,  # Held for COD Payment
    "139": (S.FAILED_ATTEMPT, B.ACCESS_RESTRICTED, R.RECIPIENT_ACCESS_RESTRICTED),
    "50": _INCOMPLETE,  # Address Information Required
    "64": _REFUSED,  # Delivery Refused
    "59": _DAMAGED,  # Damage Reported
    "81": (S.EXCEPTION, B.RETURNING_TO_SENDER, R.CARRIER_DAMAGED_PARCEL),
    "33": _SENDER_RETURN,  # Return to Sender Requested
    "119": _SENDER_RETURN,  # Return to Sender Requested
    "118": _RETURNING,  # Return to Sender Confirmed
    "35": _RETURNING,  # Returning to Sender
    "36": _RETURNING,  # Returning to Sender: In Transit
    "67": _RETURNING,  # Returned to Sender by Post Office
    "34": _RETURNED,  # Returned to Sender
    "32": _WEATHER,  # Adverse Weather May Cause Delay
    "51": _WEATHER,  # Delay: Emergency Situation or Severe Weather
    "52": _WEATHER,  # Delay: Severe Weather
    "53": _WEATHER,  # Delay: Severe Weather
    "46": _DELAYED,  # Delay
    "48": _DELAYED,  # Delay
    "86": _DELAYED,  # Delay
    "90": _DELAYED,  # Delay
    "132": (S.EXCEPTION, B.HELD_BY_CARRIER, R.SECURITY_ISSUE),  # Airport Security Delay
    "83": (S.EXCEPTION, B.HELD_BY_CARRIER, R.UNKNOWN),  # Held
    "68": _RESEARCHED,  # Sent to Lost and Found
    "129": _RESEARCHED,  # Investigation Opened
    "147": _AGENCY_HOLD,  # Seized by Law Enforcement
    "149": (S.EXCEPTION, B.DISPOSED, R.RETAILER_NONCOMPLIANT_SHIPMENT),  # Prohibited, destroyed
    "19": _RESCHEDULED,  # Held for Future Delivery
    "20": _RESCHEDULED,  # Held for Future Delivery Requested
    "55": _RESCHEDULED,  # Rescheduled Delivery
    "115": _RESCHEDULED,  # Reschedule Delivery Confirmed
    "153": _RESCHEDULED,  # Updated Delivery Time
    "154": _RESCHEDULED,  # Updated Delivery Date
    "18": _REDIRECTED,  # Delivery Change Requested: Hold for Pickup
    "28": _REDIRECTED,  # Delivery Address Changed
    "63": _REDIRECTED,  # Delivery Change Completed
    "100": _REDIRECTED,  # Hold at UPS Access Point Confirmed
}

# UPS's standard English activity descriptions, folded; the first keyword found wins.
# Track Alert sends "D" for loaded-on-vehicle and out-for-delivery events too (UPS
# Track Alert FAQ: "D = delivery information (loaded on delivery vehicle, out for
# delivery, delivered)"), so D is narrowed on those words before the delivery places.
TEXT_REFINEMENTS: Final[Refinements] = {
    "I": (
        ("loaded on delivery vehicle", _OFD),
        ("out for delivery", _OFD),
        ("on vehicle for delivery", _OFD),
        ("awaiting customer pickup", _READY),
        ("ready for customer pickup", _READY),
        ("access point", _READY),
        ("held for customer pickup", _AT_DEPOT),
        ("import scan", (S.IN_TRANSIT, B.ARRIVED_IN_DESTINATION_COUNTRY, None)),
        ("released by clearing agency", (S.IN_TRANSIT, B.CUSTOMS_CLEARED, None)),
        ("clearance", (S.IN_TRANSIT, B.CUSTOMS_CLEARANCE_STARTED, None)),
        ("arrived at facility", _ARRIVED),
        ("departed from facility", _DEPARTED),
        ("origin scan", _ACCEPTED),
        ("drop-off", _ACCEPTED),
        ("rescheduled", _RESCHEDULED),
        ("delivery change", _REDIRECTED),
    ),
    "D": (
        ("loaded on delivery vehicle", _OFD),
        ("out for delivery", _OFD),
        ("on vehicle for delivery", _OFD),
        ("picked up", _PICKED_UP),
        ("awaiting customer pickup", _READY),
        ("access point", _READY),
        ("post office for pickup", _AT_DEPOT),
        ("neighbor", (S.DELIVERED, B.DELIVERED_TO_NEIGHBOUR, None)),
        ("front door", _SAFE_PLACE),
        ("back door", _SAFE_PLACE),
        ("porch", _SAFE_PLACE),
        ("garage", _SAFE_PLACE),
        ("mailbox", (S.DELIVERED, B.DELIVERED_TO_MAILBOX, None)),
        ("receiver", _RECEPTION),
        ("front desk", _RECEPTION),
        ("dock", _RECEPTION),
    ),
    "X": (
        ("business was closed", _CLOSED),
        ("not available", _ABSENT),
        ("not home", _ABSENT),
        ("has moved", _MOVED),
        ("incomplete", _INCOMPLETE),
        ("address", _INCORRECT),
        ("refused", _REFUSED),
        ("damage", _DAMAGED),
        ("weather", _WEATHER),
        ("duties", _DUTIES),
        ("import charges", _DUTIES),
        ("customs", (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY)),
        ("clearance", (S.EXCEPTION, B.HELD_AT_CUSTOMS, R.CUSTOMS_DELAY)),
        ("not picked up", _NOT_COLLECTED),
        ("returned to the sender", _RETURNING),
        ("returned to the shipper", _RETURNING),
        ("returning", _RETURNING),
        ("awaiting customer pickup", _READY),
        ("rescheduled", _RESCHEDULED),
    ),
}

_CODE_TABLES: Final[dict[str, tuple[dict[str, CodeMapping], ...]]] = {
    "I": (MOVEMENT_SCANS, DELIVERY_CODES),
    "D": (DELIVERY_CODES, MOVEMENT_SCANS),
    "X": (EXCEPTION_CODES, DELIVERY_CODES),
    "M": (MANIFEST_AND_UPDATE_CODES,),
    "U": (MANIFEST_AND_UPDATE_CODES,),
}


def activity_mapping(
    kind: str, code: str | None, status_code: str | None, texts: Iterable[str | None]
) -> CodeMapping | None:
    """What one UPS activity means (see the module rules); None when its type is unknown."""
    if kind not in TYPES:
        return None
    keys = (code, code.lstrip("0")) if code and code.isdigit() else (code,)
    for table in _CODE_TABLES.get(kind, ()):
        for key in keys:
            if key and key in table:
                return table[key]
    description_code = (status_code or "").lstrip("0")
    if description_code in STATUS_DESCRIPTION_CODES:
        return STATUS_DESCRIPTION_CODES[description_code]
    return resolve(kind, table=TYPES, refinements=TEXT_REFINEMENTS, texts=texts)
