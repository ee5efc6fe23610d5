"""Mondial Relay: the SOAP answer of `WSI2_TracingColisDetaille` (Web_Services.asmx,
namespace `http://www.mondialrelay.fr/webservice/`), read into the JSON form of the
same answer so that `mondial_relay.py` keeps one mapping for both encodings.

Answer (Mondial Relay "Solution Web Service" WSI2 documentation; element names as in
the service's WSDL, type `ret_WSI2_TracingColisDetaille`):
`WSI2_TracingColisDetailleResponse/WSI2_TracingColisDetailleResult` {`STAT`,
`Libelle01`, `Relais_Libelle`, `Relais_Num`, `Libelle02`, `Tracing` {
`ret_WSI2_sub_TracingColisDetaille`* {`Libelle`, `Date`, `Heure`, `Emplacement`,
`Relais_Num`, `Relais_Pays`}}}, SOAP 1.1 or 1.2. The service pads `Tracing` with
empty lines; those are dropped by the mapping.

The answer does not repeat the shipment number (the request's `Expedition`): as for
the JSON form, whoever relays or polls it adds an `Expedition` element, in the result
or anywhere else in the envelope (a SOAP Header, the request echoed beside the
answer); the first one found is the shipment number. A SOAP Fault is a PayloadError
with its fault string.
"""

from __future__ import annotations

from typing import Any, Final

from relais_tracker.adapters.carriers._common import as_object
from relais_tracker.adapters.carriers._xml import (
    descendant,
    local_name,
    parse_xml,
    raise_soap_fault,
    text_of,
    to_data,
)
from relais_tracker.adapters.carriers.base import PayloadError

CARRIER: Final = "mondial_relay"
RESULT: Final = "WSI2_TracingColisDetailleResult"
_LISTS: Final = frozenset({"ret_WSI2_sub_TracingColisDetaille"})
_TRACING_STATS: Final = frozenset({"80", "81", "82", "83"})
"""The STAT values of an answer that carries tracing (WSI2 return codes 80 to 83)."""


def read_result(payload: bytes) -> dict[str, Any]:
    """The `WSI2_TracingColisDetailleResult` as the JSON form, `Expedition` included."""
    root = parse_xml(payload, carrier=CARRIER)
    raise_soap_fault(root, carrier=CARRIER)
    result = root if local_name(root) == RESULT else descendant(root, RESULT)
    if result is None:
        raise PayloadError(f"{CARRIER}: the XML answer has no {RESULT} element")
    data = as_object(to_data(result, lists=_LISTS) or {}, where=RESULT)
    expedition = text_of(descendant(root, "Expedition"))
    if expedition is not None:
        data["Expedition"] = expedition
    elif data.get("STAT") in _TRACING_STATS:  # an error answer is reported by its STAT
        raise PayloadError(
            f"{CARRIER}: the XML answer has no Expedition element (Mondial Relay does not "
            "repeat the shipment number: add the request's Expedition to the answer)"
        )
    if data.get("Tracing") is None:  # <Tracing/>: no line yet
        data["Tracing"] = []
    return data
