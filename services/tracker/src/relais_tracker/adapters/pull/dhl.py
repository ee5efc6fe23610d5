"""DHL Shipment Tracking - Unified: one GET per tracking number with the API key.

- tracking: GET <base>/track/shipments?trackingNumber=...&language=en with the header
  `DHL-API-Key` (developer.dhl.com/api-reference/shipment-tracking; karrio
  modules/connectors/dhl_universal/karrio/mappers/dhl_universal/proxy.py);
- not found: 404 with a problem document `{"title": "No result found", "status": 404,
  "detail": ...}`; other errors are problem documents too (`status`, `title`);
- limits: a daily quota (250 calls for a new app) and a spike arrest (1 call per
  second), both answered 429 (adapters.pull.config).
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from relais_tracker.adapters.pull.client import PullClient, json_document, safe_code


class DhlClient(PullClient):
    carrier: ClassVar[str] = "dhl"

    def tracking_request(self, tracking_number: str, *, token: str | None) -> httpx.Request:
        return self._http.build_request(
            "GET",
            f"{self.base_url}/track/shipments",
            params={
                "trackingNumber": tracking_number,
                "language": (self.credentials.locale or "en")[:2].lower(),
            },
            headers={"DHL-API-Key": self.secret("api_key"), "Accept": "application/json"},
        )

    def error_codes(self, body: bytes) -> list[str]:
        document = json_document(body)
        if not isinstance(document, dict) or "shipments" in document:
            return []
        code = safe_code(document.get("status"))
        return [code] if code else []
