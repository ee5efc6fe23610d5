"""UPS Track API: OAuth2 client credentials, then one GET per tracking number.

- token: POST <base>/security/v1/oauth/token, HTTP Basic `client_id:client_secret`, form
  `grant_type=client_credentials`, optional `x-merchant-id` (the shipper account); the
  answer's `expires_in` is a string of seconds (UPS OAuthClientCredentials.yaml,
  github.com/UPS-API/api-documentation);
- tracking: GET <base>/api/track/v1/details/{inquiryNumber}?locale=en_US with
  `Authorization: Bearer`, `transId` (unique per request, at most 32 characters) and
  `transactionSrc` (the calling application) headers (UPS Tracking.yaml; karrio
  modules/connectors/ups/karrio/mappers/ups/proxy.py does the same);
- not found: 404, or a 200 whose shipment carries the warning `TW0001` "Tracking
  Information Not Found"; errors are `{"response": {"errors": [{code, message}]}}`
  (e.g. `TV1002` "Invalid inquiry number", answered 400).
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar
from urllib.parse import quote
from uuid import uuid4

import httpx

from relais_tracker.adapters.pull.client import PullClient, codes_of, json_document

TRANSACTION_SOURCE = "relais"


class UpsClient(PullClient):
    carrier: ClassVar[str] = "ups"
    uses_oauth: ClassVar[bool] = True
    not_found_codes: ClassVar[frozenset[str]] = frozenset({"TW0001"})

    def token_request(self) -> httpx.Request:
        pair = f"{self.secret('client_id')}:{self.secret('client_secret')}".encode()
        account = self.credentials.account_number
        return self._http.build_request(
            "POST",
            f"{self.base_url}/security/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={
                "Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}",
                "Accept": "application/json",
                **({"x-merchant-id": account} if account else {}),
            },
        )

    def tracking_request(self, tracking_number: str, *, token: str | None) -> httpx.Request:
        return self._http.build_request(
            "GET",
            f"{self.base_url}/api/track/v1/details/{quote(tracking_number, safe='')}",
            params={"locale": self.credentials.locale or "en_US", "returnSignature": "false"},
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "transId": uuid4().hex,
                "transactionSrc": TRANSACTION_SOURCE,
            },
        )

    def error_codes(self, body: bytes) -> list[str]:
        document = json_document(body)
        if not isinstance(document, dict):
            return []
        items: list[Any] = []
        response = document.get("response")
        if isinstance(response, dict):
            items.extend(codes_of(response.get("errors")))
        track = document.get("trackResponse")
        shipments = track.get("shipment") if isinstance(track, dict) else None
        for shipment in shipments if isinstance(shipments, list) else []:
            if isinstance(shipment, dict):
                items.extend(codes_of(shipment.get("warnings")))
        return items
