"""FedEx Track API: OAuth2 client credentials, then one POST per tracking number.

- token: POST <base>/oauth/token, form `grant_type=client_credentials`, `client_id`,
  `client_secret`; `expires_in` in seconds (3599: an hour) (developer.fedex.com API
  Authorization; karrio modules/connectors/fedex/karrio/mappers/fedex/proxy.py
  `authenticate`);
- tracking: POST <base>/track/v1/trackingnumbers, JSON `{"includeDetailedScans": true,
  "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": ...}}]}`, headers
  `Authorization: Bearer`, `X-locale` (developer.fedex.com Track API "Track by Tracking
  Number"; karrio fedex/providers/fedex/tracking.py `tracking_request`);
- not found: a 200 whose track result carries `error.code`
  `TRACKING.TRACKINGNUMBER.NOTFOUND`; errors are `{"errors": [{code, message}]}`
  (e.g. `TRACKING.TRACKINGNUMBER.EMPTY`; codes as replayed in karrio
  modules/connectors/fedex/tests/fedex/test_tracking.py).
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from relais_tracker.adapters.pull.client import PullClient, codes_of, json_document, safe_code


class FedexClient(PullClient):
    carrier: ClassVar[str] = "fedex"
    uses_oauth: ClassVar[bool] = True
    not_found_codes: ClassVar[frozenset[str]] = frozenset({"TRACKING.TRACKINGNUMBER.NOTFOUND"})

    def token_request(self) -> httpx.Request:
        return self._http.build_request(
            "POST",
            f"{self.base_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.secret("client_id"),
                "client_secret": self.secret("client_secret"),
            },
            headers={"Accept": "application/json"},
        )

    def tracking_request(self, tracking_number: str, *, token: str | None) -> httpx.Request:
        return self._http.build_request(
            "POST",
            f"{self.base_url}/track/v1/trackingnumbers",
            json={
                "includeDetailedScans": True,
                "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": tracking_number}}],
            },
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "X-locale": self.credentials.locale or "en_US",
            },
        )

    def error_codes(self, body: bytes) -> list[str]:
        document = json_document(body)
        if not isinstance(document, dict):
            return []
        codes = codes_of(document.get("errors"))
        output = document.get("output")
        complete = output.get("completeTrackResults") if isinstance(output, dict) else None
        for item in complete if isinstance(complete, list) else []:
            results = item.get("trackResults") if isinstance(item, dict) else None
            for result in results if isinstance(results, list) else []:
                error = result.get("error") if isinstance(result, dict) else None
                code = safe_code(error.get("code")) if isinstance(error, dict) else None
                if code:
                    codes.append(code)
        return codes
