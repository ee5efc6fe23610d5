"""La Poste / Colissimo: Suivi v2 on the Okapi platform, one GET per tracking number.

- tracking: GET <base>/suivi/v2/idships/{idShip}?lang=fr_FR with the header
  `X-Okapi-Key` (developer.laposte.fr/products/suivi/2/documentation; karrio
  modules/connectors/laposte/karrio/mappers/laposte/proxy.py);
- the answer's `returnCode` repeats the HTTP status: 200 (or 207 for several ids), 400
  for a number of the wrong format, 401 for a bad key, 404 for an unknown number;
- limit: 100 calls per minute per key (adapters.pull.config).
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

import httpx

from relais_tracker.adapters.pull.client import PullClient, json_document, safe_code


class ColissimoClient(PullClient):
    carrier: ClassVar[str] = "colissimo"
    not_found_codes: ClassVar[frozenset[str]] = frozenset({"404"})

    def tracking_request(self, tracking_number: str, *, token: str | None) -> httpx.Request:
        return self._http.build_request(
            "GET",
            f"{self.base_url}/suivi/v2/idships/{quote(tracking_number, safe='')}",
            params={"lang": self.credentials.locale or "fr_FR"},
            headers={"X-Okapi-Key": self.secret("api_key"), "Accept": "application/json"},
        )

    def error_codes(self, body: bytes) -> list[str]:
        document = json_document(body)
        items = document if isinstance(document, list) else [document]
        codes = [
            safe_code(item.get("returnCode"))
            for item in items
            if isinstance(item, dict) and item.get("returnCode") not in (200, "200", 207, "207")
        ]
        return [code for code in codes if code]
