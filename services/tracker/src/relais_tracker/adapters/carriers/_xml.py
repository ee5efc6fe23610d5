"""XML helpers shared by the carrier adapters that read SOAP/XML answers (Chronopost
TrackingServiceWS, DPD ParcelLifeCycleService, Mondial Relay WSI2).

Rules:
- XML is parsed with defusedxml only, with DTDs forbidden: a document carrying a
  DOCTYPE is refused before anything in it is used, so no entity is ever expanded
  (billion laughs, quadratic blowup) and no external entity or DTD is ever fetched;
  every failure is a `PayloadError` with a one-line reason, never an expat error;
- element lookups compare local names (the part after `}`), so `soap:Body`,
  `soapenv:Body`, `S:Body` and a default-namespace `Body` are one element, and a
  carrier moving its types to another namespace changes nothing;
- a SOAP Fault anywhere in the document (1.1 `faultcode`/`faultstring`, 1.2
  `Code/Value`/`Reason/Text`) is a `PayloadError` carrying the fault string and,
  when the carrier gives one, its detail message;
- `to_data` turns an element into the dict/list/text shape the carriers' JSON forms
  use, so an adapter that reads both encodings keeps one mapping.
"""

from __future__ import annotations

from typing import Any, Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import fromstring

from relais_tracker.adapters.carriers._common import one_line
from relais_tracker.adapters.carriers.base import PayloadError

MAX_DEPTH: Final = 32
"""Deeper than any tracking answer nests; a deeper document is refused by `to_data`."""

_XSI_NIL: Final = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_LEADING_NOISE: Final = b"\xef\xbb\xbf \t\r\n"


def looks_like_xml(payload: bytes) -> bool:
    """True when the payload starts (after a BOM and blanks) with `<`: XML, never JSON."""
    return payload.lstrip(_LEADING_NOISE).startswith(b"<")


def parse_xml(payload: bytes, *, carrier: str) -> Element:
    """The document's root element; PayloadError for a DTD, an entity or malformed XML."""
    try:
        return fromstring(payload, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise PayloadError(
            f"{carrier}: XML with a DOCTYPE is refused (DTDs and entities are never processed)"
        ) from None
    except DefusedXmlException as error:
        raise PayloadError(
            f"{carrier}: XML refused, it declares entities ({type(error).__name__})"
        ) from None
    except ParseError as error:
        raise PayloadError(f"{carrier}: payload is not well-formed XML ({error})") from None


def local_name(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def children(element: Element, name: str) -> list[Element]:
    """The direct children called `name`, whatever their namespace, in document order."""
    return [item for item in element if local_name(item) == name]


def child(element: Element, name: str) -> Element | None:
    return next((item for item in element if local_name(item) == name), None)


def descendant(element: Element, name: str) -> Element | None:
    """The first element called `name` below `element`, in document order."""
    return next(
        (item for item in element.iter() if item is not element and local_name(item) == name),
        None,
    )


def text_of(element: Element | None) -> str | None:
    """The element's own text, stripped; None when absent, empty or `xsi:nil`."""
    if element is None or element.get(_XSI_NIL) in ("true", "1"):
        return None
    value = (element.text or "").strip()
    return value or None


def child_text(element: Element, name: str) -> str | None:
    return text_of(child(element, name))


def required(element: Element, name: str, *, carrier: str) -> Element:
    """The first element called `name` anywhere below `element`; PayloadError if none."""
    found = descendant(element, name)
    if found is None:
        raise PayloadError(f"{carrier}: the XML answer has no {name} element")
    return found


def raise_soap_fault(root: Element, *, carrier: str) -> None:
    """PayloadError with the fault's code, string and detail message when the document
    is (or contains) a SOAP Fault; nothing otherwise."""
    fault = root if local_name(root) == "Fault" else descendant(root, "Fault")
    if fault is None:
        return
    code = child_text(fault, "faultcode") or _nested_text(fault, "Code", "Value")
    reason = child_text(fault, "faultstring") or _nested_text(fault, "Reason", "Text")
    detail = _detail_message(fault)
    message = f"{carrier}: SOAP Fault {code or 'without code'}: {reason or 'no fault string'}"
    raise PayloadError(one_line(f"{message} ({detail})" if detail else message))


def _nested_text(element: Element, outer: str, inner: str) -> str | None:
    container = child(element, outer)
    return child_text(container, inner) if container is not None else None


def _detail_message(fault: Element) -> str | None:
    detail = next((item for item in fault if local_name(item) in ("detail", "Detail")), None)
    if detail is None:
        return None
    parts = [
        text_of(descendant(detail, name)) for name in ("errorCode", "faultCode", "errorMessage")
    ]
    message = ": ".join(part for part in parts if part)
    return message or None


def to_data(element: Element, *, lists: frozenset[str] = frozenset(), depth: int = 0) -> Any:
    """The element as the JSON form of the same answer: an element with children is a
    dict keyed by local name (a repeated name, or one in `lists`, becomes a list), a leaf
    is its stripped text or None (`{}` for an empty element named in `lists`).
    Attributes other than `xsi:nil` carry no tracking data and are ignored."""
    if depth > MAX_DEPTH:
        raise PayloadError(f"XML nests deeper than {MAX_DEPTH} levels: not a tracking answer")
    if len(element) == 0:
        value = text_of(element)
        return {} if value is None and local_name(element) in lists else value
    data: dict[str, Any] = {}
    for item in element:
        name = local_name(item)
        value = to_data(item, lists=lists, depth=depth + 1)
        if name in lists:
            data.setdefault(name, []).append(value)
        elif name in data:
            previous = data[name]
            data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[name] = value
    return data
