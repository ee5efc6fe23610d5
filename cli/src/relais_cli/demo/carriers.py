"""The demo's carrier simulator: each carrier's own payload for one scan of a parcel.

Rules:
- a scan is carrier-neutral (`Scan`: a Relais substatus, the time, the place, and the
  incident and delivery estimate the scenario attaches); each carrier has ONE table
  from those substatuses to its native event (code, label, fields as its format has
  them) and one encoder that writes a scan as the body the carrier (or the relay that
  forwards its tracking) would post: one event per call, the newest;
- a table holds a substatus only where the tracker's adapter reads the native event
  back as exactly that substatus and, where the scenario attaches one, exactly that
  incident reason (tests/unit/demo/test_demo_carriers.py replays every entry through
  the real adapters); a substatus a carrier cannot say is left out of its table;
- times are written the way the carrier writes them: with an offset (Colissimo and
  Chronopost in Paris time, FedEx in the scan's local time), local time plus a GMT
  offset (UPS), or zone-less local time of the scan's country (DHL, DPD, GLS, Mondial
  Relay, at minute precision for the latter);
- `speaks(carrier, scans)` says whether a parcel's whole story can be told in the
  carrier's format: every substatus in its table, an estimate only where the format
  carries one, and every zone-less time unambiguous (not in the repeated hour of a
  change to winter time) at the format's precision. A parcel whose story it cannot
  tell is sent entirely in the generic Relais format (docs/carriers.md), its order
  naming carrier `generic`, so one parcel never mixes formats;
- nothing here does I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

GENERIC: Final = "generic"

ZONES: Final[dict[str, ZoneInfo]] = {
    "FR": ZoneInfo("Europe/Paris"),
    "GB": ZoneInfo("Europe/London"),
    "IE": ZoneInfo("Europe/Dublin"),
}
"""The civil zone of each country the story ships to (the adapters read zone-less
times in the same zones)."""

PARIS: Final = ZONES["FR"]
COUNTRY_NAMES: Final = {"FR": "France", "GB": "United Kingdom", "IE": "Ireland"}


@dataclass(frozen=True)
class Place:
    city: str
    postal_code: str
    country: str
    """ISO 3166 alpha-2, one of ZONES."""


@dataclass(frozen=True)
class Scan:
    """One carrier event of a parcel's scenario, in Relais terms."""

    at: datetime
    kind: str
    """A Relais substatus (relais_contracts.tracking.Substatus value)."""
    place: Place
    incident: str | None = None
    """A Relais incident reason, when the scenario says why."""
    estimated_day: date | None = None
    """The carrier's new delivery estimate, when the scenario gives one."""


@dataclass(frozen=True)
class WebhookAuth:
    """How the carrier's calls are authenticated (a platform credential of the tracker,
    relais_runtime.merchants.tracking.CarrierWebhookAuth)."""

    scheme: str
    header: str
    prefix: str = ""


RELAY_AUTH: Final = WebhookAuth(scheme="hmac_sha256", header="X-Relais-Signature", prefix="sha256=")
"""Carriers without a documented push signature reach Relais through a relay (a poller
or an aggregator) that signs like the generic format."""


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone)


def _naive(at: datetime, zone: ZoneInfo) -> datetime:
    return _local(at, zone).replace(tzinfo=None, fold=0)


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _relay_number(place: Place) -> str:
    """A stable six-digit point number for the place (Mondial Relay numbers its points)."""
    return f"{zlib.crc32(place.postal_code.encode()) % 1_000_000:06d}"


# --- Colissimo: Suivi v2 (`shipment.event[]` `{code, label, date}`), dates with offset.


class Colissimo(NamedTuple):
    code: str
    label: str


COLISSIMO: Final[dict[str, Colissimo]] = {
    "accepted_by_carrier": Colissimo("PC1", "Votre colis est pris en charge par La Poste."),
    "in_transit_unspecified": Colissimo(
        "ET1", "Votre colis est en transit sur nos plateformes logistiques."
    ),
    "arrived_at_facility": Colissimo("EP1", "Votre colis est arrivé sur son site de distribution."),
    "out_for_delivery_unspecified": Colissimo("MD2", "Votre colis est en cours de livraison."),
    "delivered_unspecified": Colissimo("DI1", "Votre colis est livré."),
    "delivered_to_neighbour": Colissimo("DI1", "Votre colis a été livré chez votre voisin."),
    "recipient_absent": Colissimo(
        "ND1",
        "Votre colis n'a pas pu être livré : destinataire absent. Un avis de passage a été déposé.",
    ),
    "incorrect_address": Colissimo(
        "ND1", "Votre colis n'a pas pu être livré : l'adresse est erronée."
    ),
    "refused_by_recipient": Colissimo("ND1", "Votre colis a été refusé par le destinataire."),
    "damaged": Colissimo("PB1", "Votre colis est endommagé. Nous faisons le nécessaire."),
    "returning_to_sender": Colissimo("RE1", "Votre colis est retourné à l'expéditeur."),
    "ready_for_pickup": Colissimo("AG1", "Votre colis est disponible dans votre point de retrait."),
    "arrived_in_destination_country": Colissimo(
        "ET3", "Votre colis est arrivé dans le pays de destination."
    ),
    "held_at_customs": Colissimo("DO3", "Votre colis est retenu en douane."),
}


def _colissimo(
    tracking_number: str, scan: Scan, native: Colissimo, zone: ZoneInfo
) -> dict[str, Any]:
    return {
        "lang": "fr_FR",
        "scope": "open",
        "returnCode": 200,
        "shipment": {
            "idShip": tracking_number,
            "product": "colissimo",
            "isFinal": scan.kind.startswith("delivered"),
            "event": [
                {
                    "code": native.code,
                    "label": native.label,
                    "date": _local(scan.at, zone).isoformat(),
                }
            ],
        },
    }


# --- Chronopost: the webhook body `{skybillNumber, events}`, dates with Paris offset.


class Chronopost(NamedTuple):
    code: str
    label: str


CHRONOPOST: Final[dict[str, Chronopost]] = {
    "accepted_by_carrier": Chronopost("DB", "Envoi remis par l'expéditeur"),
    "in_transit_unspecified": Chronopost("TS", "Envoi en transit"),
    "arrived_at_facility": Chronopost("SD", "Tri effectué dans l'agence de distribution"),
    "out_for_delivery_unspecified": Chronopost("TA", "Envoi en cours de livraison"),
    "delivered_unspecified": Chronopost("D", "Livraison effectuée"),
    "delivered_to_neighbour": Chronopost("D", "Livré chez un voisin"),
}


def _chronopost(
    tracking_number: str, scan: Scan, native: Chronopost, zone: ZoneInfo
) -> dict[str, Any]:
    return {
        "skybillNumber": tracking_number,
        "events": [
            {
                "code": native.code,
                "eventDate": _local(scan.at, zone).isoformat(),
                "eventLabel": native.label,
                "highPriority": False,
                "officeLabel": f"{scan.place.city.upper()} CHRONOPOST",
                "zipCode": scan.place.postal_code,
            }
        ],
    }


# --- DHL: Shipment Tracking - Unified API, zone-less local timestamps.


class Dhl(NamedTuple):
    status_code: str
    status: str
    description: str


DHL: Final[dict[str, Dhl]] = {
    "accepted_by_carrier": Dhl("transit", "PICKED UP", "The shipment has been picked up"),
    "in_transit_unspecified": Dhl("transit", "IN TRANSIT", "The shipment is on its way"),
    "arrived_at_facility": Dhl(
        "transit", "ARRIVED", "The shipment has arrived at the delivery depot"
    ),
    "out_for_delivery_unspecified": Dhl(
        "transit", "IN DELIVERY", "The shipment has been loaded onto the delivery vehicle"
    ),
    "delivered_unspecified": Dhl("delivered", "DELIVERED", "The shipment has been delivered"),
    "delivered_to_neighbour": Dhl(
        "delivered", "DELIVERED", "The shipment has been delivered to the neighbour"
    ),
    "ready_for_pickup": Dhl(
        "transit", "READY FOR PICKUP", "The shipment is ready for pick-up at the parcel shop"
    ),
    "recipient_absent": Dhl("failure", "NOT DELIVERED", "The recipient was not at home"),
    "incorrect_address": Dhl(
        "failure", "NOT DELIVERED", "The shipment could not be delivered: the address is wrong"
    ),
    "refused_by_recipient": Dhl(
        "failure", "NOT DELIVERED", "The recipient refused to accept the shipment"
    ),
    "damaged": Dhl("failure", "DAMAGED", "The shipment has been damaged"),
    "lost": Dhl("failure", "LOST", "The shipment has been lost"),
    "returning_to_sender": Dhl("transit", "RETURN", "The shipment is being returned to the sender"),
    "held_at_customs": Dhl("failure", "CUSTOMS", "The shipment is held by customs"),
}


def _dhl(tracking_number: str, scan: Scan, native: Dhl, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "shipments": [
            {
                "id": tracking_number,
                "service": "parcel-de",
                "events": [
                    {
                        "timestamp": _naive(scan.at, zone).isoformat(),
                        "location": {
                            "address": {
                                "countryCode": scan.place.country,
                                "postalCode": scan.place.postal_code,
                                "addressLocality": scan.place.city,
                            }
                        },
                        "statusCode": native.status_code,
                        "status": native.status,
                        "description": native.description,
                    }
                ],
            }
        ]
    }


# --- UPS: Track API, local date/time of the scan with its GMT offset.


class Ups(NamedTuple):
    type: str
    code: str
    description: str
    left_at: str | None = None
    """deliveryInformation.location, where a delivery scan says it was left."""


UPS: Final[dict[str, Ups]] = {
    "accepted_by_carrier": Ups("P", "PU", "Pickup Scan"),
    "in_transit_unspecified": Ups("I", "IT", "In Transit"),
    "arrived_at_facility": Ups("I", "AR", "Arrived at Facility"),
    "out_for_delivery_unspecified": Ups("I", "OT", "Out For Delivery Today"),
    "delivered_unspecified": Ups("D", "KB", "Delivered"),
    "delivered_to_neighbour": Ups("D", "KB", "Delivered", left_at="Neighbor"),
    "ready_for_pickup": Ups(
        "I", "2Q", "Delivered to UPS Access Point™ and awaiting customer pickup"
    ),
    "arrived_in_destination_country": Ups("I", "IP", "Import Scan"),
    "held_at_customs": Ups("X", "CW", "Your package is being held for customs clearance."),
    "incorrect_address": Ups(
        "X", "AE", "The street number is incorrect. We're attempting to update the address."
    ),
    "refused_by_recipient": Ups("X", "RE", "The receiver refused the delivery."),
    "damaged": Ups("X", "DM", "The package was damaged. The sender has been notified."),
    "returning_to_sender": Ups("X", "RS", "The package is being returned to the sender."),
}


def _ups(tracking_number: str, scan: Scan, native: Ups, zone: ZoneInfo) -> dict[str, Any]:
    local = _local(scan.at, zone)
    gmt = scan.at.astimezone(UTC)
    package: dict[str, Any] = {
        "trackingNumber": tracking_number,
        "activity": [
            {
                "location": {
                    "address": {
                        "city": scan.place.city.upper(),
                        "postalCode": scan.place.postal_code,
                        "country": scan.place.country,
                        "countryCode": scan.place.country,
                    }
                },
                "status": {
                    "type": native.type,
                    "description": native.description,
                    "code": native.code,
                },
                "date": local.strftime("%Y%m%d"),
                "time": local.strftime("%H%M%S"),
                "gmtDate": gmt.strftime("%Y%m%d"),
                "gmtTime": gmt.strftime("%H:%M:%S"),
                "gmtOffset": _offset(local),
            }
        ],
    }
    if native.left_at is not None:
        package["deliveryInformation"] = {"location": native.left_at}
    return {
        "trackResponse": {"shipment": [{"inquiryNumber": tracking_number, "package": [package]}]}
    }


# --- FedEx: Track API, dates with the scan's local offset, estimate in dateAndTimes.


class Fedex(NamedTuple):
    event_type: str
    description: str
    exception_code: str = ""
    exception_description: str = ""


FEDEX: Final[dict[str, Fedex]] = {
    "accepted_by_carrier": Fedex("PU", "Picked up"),
    "in_transit_unspecified": Fedex("IT", "In transit"),
    "arrived_at_facility": Fedex("AR", "Arrived at FedEx location"),
    "out_for_delivery_unspecified": Fedex("OD", "On FedEx vehicle for delivery"),
    "delivered_unspecified": Fedex("DL", "Delivered"),
    "delivered_to_neighbour": Fedex("DL", "Delivered - Left with neighbor"),
    "ready_for_pickup": Fedex("HL", "Ready for pickup at FedEx location"),
    "incorrect_address": Fedex("DE", "Delivery exception", "03", "Incorrect address"),
    "refused_by_recipient": Fedex("DE", "Delivery exception", "07", "Refused by recipient"),
    "damaged": Fedex("SE", "Shipment exception", "", "Package damaged"),
    "lost": Fedex("SE", "Shipment exception", "", "Package lost"),
    "returning_to_sender": Fedex("RS", "Return to shipper"),
    "held_at_customs": Fedex("CD", "Clearance delay"),
    "delayed_processing": Fedex("DY", "Delay", "", "Flight delay, missed connection"),
}


def _fedex(tracking_number: str, scan: Scan, native: Fedex, zone: ZoneInfo) -> dict[str, Any]:
    result: dict[str, Any] = {
        "trackingNumberInfo": {"trackingNumber": tracking_number, "carrierCode": "FDXE"},
        "scanEvents": [
            {
                "date": _local(scan.at, zone).isoformat(),
                "eventType": native.event_type,
                "eventDescription": native.description,
                "exceptionCode": native.exception_code,
                "exceptionDescription": native.exception_description,
                "scanLocation": {
                    "city": scan.place.city.upper(),
                    "postalCode": scan.place.postal_code,
                    "countryCode": scan.place.country,
                },
                "derivedStatusCode": native.event_type,
            }
        ],
    }
    if scan.estimated_day is not None:
        midnight = datetime.combine(scan.estimated_day, time(0), tzinfo=zone)
        result["dateAndTimes"] = [{"type": "ESTIMATED_DELIVERY", "dateTime": midnight.isoformat()}]
    return {
        "output": {
            "completeTrackResults": [{"trackingNumber": tracking_number, "trackResults": [result]}]
        }
    }


# --- DPD: parcel life cycle, zone-less local dates, "City (CC)" locations.


class Dpd(NamedTuple):
    scan_type: str
    description: str


_NOT_DELIVERED: Final = "Unfortunately we have not been able to deliver your parcel."

DPD: Final[dict[str, Dpd]] = {
    "accepted_by_carrier": Dpd("SC_05_PICKUP", "The parcel has been handed over to DPD."),
    "in_transit_unspecified": Dpd("SC_01_CONSOLIDATED", "In transit."),
    "arrived_at_facility": Dpd("SC_02_INBOUND", "At parcel delivery centre."),
    "out_for_delivery_unspecified": Dpd("SC_03_OUT_FOR_DELIVERY", "Out for delivery."),
    "delivered_unspecified": Dpd("SC_13_DELIVERED", "Delivered."),
    "delivered_to_neighbour": Dpd("SC_13_DELIVERED", "Delivered to your neighbour."),
    "ready_for_pickup": Dpd("SC_23_PICKUP_DELIVERY", "Delivered to Pickup parcelshop."),
    "recipient_absent": Dpd("SC_14_NOT_DELIVERED", f"{_NOT_DELIVERED} The recipient was absent."),
    "incorrect_address": Dpd("SC_14_NOT_DELIVERED", f"{_NOT_DELIVERED} The address is incorrect."),
    "refused_by_recipient": Dpd(
        "SC_14_NOT_DELIVERED", f"{_NOT_DELIVERED} The recipient refused to accept it."
    ),
    "damaged": Dpd("SC_14_NOT_DELIVERED", f"{_NOT_DELIVERED} The parcel is damaged."),
    "returning_to_sender": Dpd("SC_15_RETURN", "Return to sender."),
}


def _dpd(tracking_number: str, scan: Scan, native: Dpd, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "getTrackingDataResponse": {
            "trackingresult": {
                "shipmentInfo": {"parcelLabelNumber": tracking_number},
                "scanInfo": {
                    "scan": [
                        {
                            "date": _naive(scan.at, zone).isoformat(),
                            "scanData": {
                                "scanType": {
                                    "name": native.scan_type[:5],
                                    "code": native.scan_type,
                                },
                                "location": f"{scan.place.city} ({scan.place.country})",
                                "country": scan.place.country,
                            },
                            "scanDescription": {"label": "", "content": [native.description]},
                        }
                    ]
                },
            }
        }
    }


# --- GLS: track & trace, zone-less local date and time; statusInfo says what an entry
# without a known evtNo means.


class Gls(NamedTuple):
    evt_no: str | None
    status_info: str
    description: str


_GLS_NOT: Final = "The parcel could not be delivered"

GLS: Final[dict[str, Gls]] = {
    "accepted_by_carrier": Gls("0.0", "INTRANSIT", "The parcel was handed over to GLS."),
    "in_transit_unspecified": Gls(None, "INTRANSIT", "The parcel has left the parcel center."),
    "arrived_at_facility": Gls("2.0", "INWAREHOUSE", "The parcel has reached the parcel center."),
    "out_for_delivery_unspecified": Gls(
        "11.0", "INDELIVERY", "The parcel is expected to be delivered during the day."
    ),
    "delivered_unspecified": Gls("3.0", "DELIVERED", "The parcel has been delivered."),
    "delivered_to_neighbour": Gls(
        "3.0", "DELIVERED", "The parcel has been delivered at the neighbour's."
    ),
    "ready_for_pickup": Gls(
        None, "DELIVEREDPS", "The parcel has been delivered at the ParcelShop."
    ),
    "recipient_absent": Gls(None, "NOTDELIVERED", f"{_GLS_NOT} as the consignee was not present."),
    "incorrect_address": Gls(None, "NOTDELIVERED", f"{_GLS_NOT} as the address is incorrect."),
    "refused_by_recipient": Gls(
        None, "NOTDELIVERED", f"{_GLS_NOT} as the consignee refused to accept it."
    ),
    "damaged": Gls(None, "NOTDELIVERED", f"{_GLS_NOT} as it is damaged."),
    "returning_to_sender": Gls(None, "RETURNED", "The parcel is on its way back to the shipper."),
}


def _gls(tracking_number: str, scan: Scan, native: Gls, zone: ZoneInfo) -> dict[str, Any]:
    local = _naive(scan.at, zone)
    entry: dict[str, Any] = {
        "time": local.strftime("%H:%M:%S"),
        "date": local.strftime("%Y-%m-%d"),
        "address": {
            "countryName": COUNTRY_NAMES[scan.place.country],
            "countryCode": scan.place.country,
            "city": scan.place.city,
        },
        "evtDscr": native.description,
    }
    if native.evt_no is not None:
        entry["evtNo"] = native.evt_no
    return {
        "tuStatus": [
            {
                "tuNo": tracking_number,
                "progressBar": {
                    "statusInfo": native.status_info,
                    "retourFlag": native.status_info == "RETURNED",
                },
                "history": [entry],
            }
        ]
    }


# --- Mondial Relay: WSI2_TracingColisDetaille, labels (no codes), local dd/mm/yy HH:MM.


class MondialRelay(NamedTuple):
    label: str
    stat: str
    """The parcel's STAT after this line: 81 in progress, 82 delivered, 83 anomaly."""


MONDIAL_RELAY: Final[dict[str, MondialRelay]] = {
    "accepted_by_carrier": MondialRelay("Prise en charge en agence", "81"),
    "in_transit_unspecified": MondialRelay("Colis en cours d'acheminement", "81"),
    "arrived_at_facility": MondialRelay("Colis arrivé sur le site de livraison", "81"),
    "out_for_delivery_unspecified": MondialRelay("Colis en cours de livraison", "81"),
    "delivered_unspecified": MondialRelay("Colis livré", "82"),
    "ready_for_pickup": MondialRelay("Colis disponible au Point Relais", "81"),
    "recipient_absent": MondialRelay("Destinataire absent", "81"),
    "incorrect_address": MondialRelay("Adresse du destinataire incorrecte", "83"),
    "refused_by_recipient": MondialRelay("Colis refusé par le destinataire", "83"),
    "damaged": MondialRelay("Colis endommagé", "83"),
    "returning_to_sender": MondialRelay("Colis en retour à l'expéditeur", "83"),
}


def _mondial_relay(
    tracking_number: str, scan: Scan, native: MondialRelay, zone: ZoneInfo
) -> dict[str, Any]:
    local = _naive(scan.at, zone)
    at_point = scan.kind == "ready_for_pickup"
    return {
        "Expedition": tracking_number,
        "STAT": native.stat,
        "Tracing": [
            {
                "Libelle": native.label,
                "Date": local.strftime("%d/%m/%y"),
                "Heure": local.strftime("%H:%M"),
                "Emplacement": (
                    f"RELAIS {scan.place.city.upper()}"
                    if at_point
                    else f"AGENCE DE {scan.place.city.upper()}"
                ),
                "Relais_Num": _relay_number(scan.place) if at_point else "",
                "Relais_Pays": scan.place.country,
            }
        ],
    }


# --- The formats, by carrier code.


@dataclass(frozen=True)
class CarrierFormat:
    carrier: str
    product: str
    """The carrier's service, as the merchant's order names it."""
    table: Mapping[str, Any]
    encode: Callable[[str, Scan, Any, ZoneInfo], dict[str, Any]]
    auth: WebhookAuth
    zone: Callable[[Place], ZoneInfo]
    """The zone the format writes a scan's local time (and its offset) in."""
    zoneless: bool
    """Times are written without an offset (and read back in `zone`)."""
    minute_precision: bool = False
    carries_estimate: bool = False


def _paris(_: Place) -> ZoneInfo:
    return PARIS


def _country(place: Place) -> ZoneInfo:
    return ZONES[place.country]


UPS_AUTH: Final = WebhookAuth(scheme="shared_secret", header="credential")
"""UPS Track Alert puts the subscription's credential itself in a `credential` header."""
FEDEX_AUTH: Final = WebhookAuth(scheme="hmac_sha256", header="fdx-signature")
"""FedEx signs its webhook bodies with HMAC-SHA256 in `fdx-signature`."""

FORMATS: Final[dict[str, CarrierFormat]] = {
    fmt.carrier: fmt
    for fmt in (
        CarrierFormat(
            carrier="colissimo",
            product="Colissimo Domicile",
            table=COLISSIMO,
            encode=_colissimo,
            auth=RELAY_AUTH,
            zone=_paris,
            zoneless=False,
        ),
        CarrierFormat(
            carrier="chronopost",
            product="Chrono 13",
            table=CHRONOPOST,
            encode=_chronopost,
            auth=RELAY_AUTH,
            zone=_paris,
            zoneless=False,
        ),
        CarrierFormat(
            carrier="dhl",
            product="DHL Parcel Connect",
            table=DHL,
            encode=_dhl,
            auth=RELAY_AUTH,
            zone=_country,
            zoneless=True,
        ),
        CarrierFormat(
            carrier="ups",
            product="UPS Standard",
            table=UPS,
            encode=_ups,
            auth=UPS_AUTH,
            zone=_country,
            zoneless=False,
        ),
        CarrierFormat(
            carrier="fedex",
            product="FedEx International Economy",
            table=FEDEX,
            encode=_fedex,
            auth=FEDEX_AUTH,
            zone=_country,
            zoneless=False,
            carries_estimate=True,
        ),
        CarrierFormat(
            carrier="dpd",
            product="DPD Classic",
            table=DPD,
            encode=_dpd,
            auth=RELAY_AUTH,
            zone=_country,
            zoneless=True,
        ),
        CarrierFormat(
            carrier="gls",
            product="GLS Business Parcel",
            table=GLS,
            encode=_gls,
            auth=RELAY_AUTH,
            zone=_country,
            zoneless=True,
        ),
        CarrierFormat(
            carrier="mondial_relay",
            product="Mondial Relay Point Relais",
            table=MONDIAL_RELAY,
            encode=_mondial_relay,
            auth=RELAY_AUTH,
            zone=_country,
            zoneless=True,
            minute_precision=True,
        ),
    )
}


def _writable(fmt: CarrierFormat, scan: Scan) -> bool:
    """The format can write the scan's time so that its adapter reads the same instant."""
    if scan.at.microsecond or (fmt.minute_precision and scan.at.second):
        return False
    if not fmt.zoneless:
        return True
    zone = fmt.zone(scan.place)
    read_back = _naive(scan.at, zone).replace(tzinfo=zone)
    return read_back.timestamp() == scan.at.timestamp()  # `==` is False in a repeated hour


def speaks(carrier: str, scans: list[Scan]) -> bool:
    """Whether the carrier's own format can tell these scans exactly (module rules)."""
    fmt = FORMATS.get(carrier)
    if fmt is None:
        return False
    return all(
        scan.kind in fmt.table
        and (scan.estimated_day is None or fmt.carries_estimate)
        and _writable(fmt, scan)
        for scan in scans
    )


def native_payload(carrier: str, *, tracking_number: str, scan: Scan) -> dict[str, Any]:
    """The body the carrier posts for this scan; KeyError when its table lacks the kind
    (check `speaks` first)."""
    fmt = FORMATS[carrier]
    return fmt.encode(tracking_number, scan, fmt.table[scan.kind], fmt.zone(scan.place))


def generic_payload(*, carrier: str, tracking_number: str, scan: Scan) -> dict[str, Any]:
    """The generic Relais format of one scan (docs/carriers.md), naming the real carrier."""
    event: dict[str, Any] = {
        "occurred_at": scan.at.isoformat(),
        "substatus": scan.kind,
        "description": scan.kind.replace("_", " ").capitalize(),
        "location": {
            "city": scan.place.city,
            "postal_code": scan.place.postal_code,
            "country": scan.place.country,
        },
    }
    if scan.incident is not None:
        event["incident"] = {"reason": scan.incident}
    if scan.estimated_day is not None:
        event["estimated_delivery"] = {"day": scan.estimated_day.isoformat()}
    return {"tracking_number": tracking_number, "carrier": carrier, "events": [event]}
