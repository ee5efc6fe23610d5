"""Chronopost: the TrackingServiceWS SOAP web service, operation `trackSkybillV2`.

- tracking: POST <base>/tracking-cxf/TrackingServiceWS, `Content-Type: text/xml;
  charset=utf-8`, a SOAP 1.1 envelope whose body is `cxf:trackSkybillV2` {`language`,
  `skybillNumber`} in the namespace `http://cxf.tracking.soap.chronopost.fr/`
  (TrackingServiceWS.xsd; karrio modules/connectors/chronopost: proxy.py `get_tracking`,
  providers/chronopost/tracking.py `tracking_request`, and the request replayed in
  tests/chronopost/test_tracking.py); the tracking service asks no credentials;
- the answer is SOAP XML (`trackSkybillV2Response/return`), read by the Chronopost
  adapter (adapters.carriers.chronopost_soap); `errorCode` 0 is success, 1 a system
  error (retried like a 5xx); an unknown number has no events (nothing yet);
- the error code is found in the raw bytes by a bounded pattern, never by parsing the
  XML here (the adapter's hardened parser is the only one).
"""

from __future__ import annotations

import re
from typing import ClassVar, Final
from xml.sax.saxutils import escape

import httpx

from relais_tracker.adapters.pull.client import PullClient, safe_code

NAMESPACE: Final = "http://cxf.tracking.soap.chronopost.fr/"
_ERROR_CODE: Final = re.compile(rb"<(?:[\w-]{1,32}:)?errorCode>\s*([\w.-]{1,32})\s*</")


def track_skybill_v2(tracking_number: str, *, language: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        f' xmlns:cxf="{NAMESPACE}">'
        "<soapenv:Header/><soapenv:Body><cxf:trackSkybillV2>"
        f"<language>{escape(language)}</language>"
        f"<skybillNumber>{escape(tracking_number)}</skybillNumber>"
        "</cxf:trackSkybillV2></soapenv:Body></soapenv:Envelope>"
    ).encode()


class ChronopostClient(PullClient):
    carrier: ClassVar[str] = "chronopost"
    retry_codes: ClassVar[frozenset[str]] = frozenset({"1"})

    def tracking_request(self, tracking_number: str, *, token: str | None) -> httpx.Request:
        return self._http.build_request(
            "POST",
            f"{self.base_url}/tracking-cxf/TrackingServiceWS",
            content=track_skybill_v2(tracking_number, language=self.credentials.locale or "fr_FR"),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        )

    def error_codes(self, body: bytes) -> list[str]:
        codes = [safe_code(match.decode("ascii", "replace")) for match in _ERROR_CODE.findall(body)]
        return [code for code in codes if code and code != "0"]
