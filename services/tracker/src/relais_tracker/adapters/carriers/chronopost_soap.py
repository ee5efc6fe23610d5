"""Chronopost: the TrackingServiceWS answers as SOAP XML, read into the JSON form of the
same answer so that `chronopost.py` keeps one mapping for both encodings.

Operations read (schema: TrackingServiceWS.xsd, namespace
`http://cxf.tracking.soap.chronopost.fr/`, as kept in karrio
`modules/connectors/chronopost/schemas/TrackingServiceWS.xsd`; replayed answer in
karrio `modules/connectors/chronopost/tests/chronopost/test_tracking.py`):
- `trackSkybillV2Response/return` (`resultTrackSkybillV2`): `errorCode`,
  `errorMessage`, `listEventInfoComp` {`events`* {code, eventDate, eventLabel,
  highPriority, NPC, officeLabel, zipCode, infoCompList* {name, value}},
  skybillNumber}; `trackESDResponse` answers the same type;
- `trackSkybillResponse/return` (`resultTrackSkybill`): the same with `listEvents`;
- `trackWithSenderRefResponse/return`: `listParcel`* (one event list per parcel).

Every element is unqualified except the operation's wrapper; lookups ignore namespaces
anyway. A SOAP Fault is a PayloadError with its fault string.
"""

from __future__ import annotations

from typing import Any, Final

from relais_tracker.adapters.carriers._common import as_object
from relais_tracker.adapters.carriers._xml import (
    descendant,
    local_name,
    parse_xml,
    raise_soap_fault,
    to_data,
)
from relais_tracker.adapters.carriers.base import PayloadError

RESPONSES: Final = (
    "trackSkybillV2Response",
    "trackSkybillResponse",
    "trackESDResponse",
    "trackWithSenderRefResponse",
)
"""The TrackingServiceWS answers that carry event lists."""

_LISTS: Final = frozenset({"events", "infoCompList", "listParcel"})
"""Elements declared maxOccurs="unbounded" in TrackingServiceWS.xsd."""


def read_answer(payload: bytes) -> dict[str, Any]:
    """`{<operation>Response: {return: {...}}}`, as the JSON form of the answer."""
    root = parse_xml(payload, carrier="chronopost")
    raise_soap_fault(root, carrier="chronopost")
    for name in RESPONSES:
        response = root if local_name(root) == name else descendant(root, name)
        if response is not None:
            return {name: as_object(to_data(response, lists=_LISTS) or {}, where=name)}
    raise PayloadError(f"chronopost: the XML answer has none of {', '.join(RESPONSES)}")
