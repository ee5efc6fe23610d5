"""A stand-in for the demo merchants' systems: accepts signed action webhooks.

Rules: a request whose Relais-Signature does not verify with the merchant's secret
gets 401; a repeated Idempotency-Key gets the first answer again; every accepted
action is answered `completed` with a reference.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from relais_contracts.webhooks import SignatureError, verify_signature


class MerchantStub:
    def __init__(self, *, secrets: dict[str, str], port: int = 0) -> None:
        self.secrets = secrets
        self.answers: dict[str, bytes] = {}
        self.received: Counter[tuple[str, str]] = Counter()
        """(shipment id, action) of each distinct action accepted."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                merchant = self.path.strip("/").split("/")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = stub.answer(
                    merchant=merchant,
                    header=self.headers.get("Relais-Signature", ""),
                    key=self.headers.get("Idempotency-Key", ""),
                    body=body,
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, *, merchant: str, header: str, key: str, body: bytes) -> tuple[int, bytes]:
        secret = self.secrets.get(merchant)
        if secret is None:
            return 404, b'{"message": "unknown merchant"}'
        try:
            verify_signature(secret.encode(), header, body, datetime.now(UTC))
        except SignatureError as error:
            self.received[("", "refused: bad signature")] += 1
            return 401, json.dumps({"message": str(error)}).encode()
        if key not in self.answers:
            request = json.loads(body)
            action = str(request.get("action", {}).get("action", "unknown"))
            self.received[(str(request.get("shipment_id", "")), action)] += 1
            reference = f"DEMO-{len(self.answers) + 1:05d}"
            self.answers[key] = json.dumps({"status": "completed", "reference": reference}).encode()
        return 200, self.answers[key]

    def received_for(self, run_id: str) -> Counter[str]:
        """Actions by type for the shipments of one demo run (others share the topics)."""
        counts: Counter[str] = Counter()
        for (shipment_id, action), count in self.received.items():
            if shipment_id.startswith(f"{run_id}-") or not shipment_id:
                counts[action] += count
        return counts

    def url(self, merchant_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{merchant_id}/actions"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
