"""Pull clients for the carriers' own tracking APIs: one module per carrier, the shared
token cache (oauth.py), limiter (rate.py) and request loop (client.py).

`PullPoller` is the polling loop's `CarrierPoller`: each carrier with credentials in
`TrackerSettings.pull_carriers` goes to its own client; any other polled carrier to the
generic `HttpCarrierPoller` (GET <poll_base_url>/<carrier>/<number>) when one is set.
What a client fetched is the carrier's raw answer, already read by its adapter once
(adapters.carriers), published as is for the normal ingestion path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import httpx

from relais_tracker.adapters import carriers
from relais_tracker.adapters.carrier_poller import (
    CarrierPoller,
    FetchedPayload,
    PollError,
    PollRetry,
)
from relais_tracker.adapters.pull.chronopost import ChronopostClient
from relais_tracker.adapters.pull.client import PullClient
from relais_tracker.adapters.pull.colissimo import ColissimoClient
from relais_tracker.adapters.pull.config import (
    PULL_APIS,
    PullCredentials,
    pull_carriers_of,
    rate_limit_of,
)
from relais_tracker.adapters.pull.dhl import DhlClient
from relais_tracker.adapters.pull.fedex import FedexClient
from relais_tracker.adapters.pull.rate import CarrierLimiter
from relais_tracker.adapters.pull.ups import UpsClient

__all__ = [
    "CLIENTS",
    "PULL_APIS",
    "PullClient",
    "PullCredentials",
    "PullPoller",
    "build_pull_clients",
    "pull_carriers_of",
]

CLIENTS: Final[dict[str, type[PullClient]]] = {
    client.carrier: client
    for client in (UpsClient, FedexClient, DhlClient, ColissimoClient, ChronopostClient)
}


def build_pull_clients(
    pull_carriers: dict[str, PullCredentials],
    *,
    retry: PollRetry,
    http: Callable[[], httpx.AsyncClient],
    max_wait_s: float,
) -> dict[str, PullClient]:
    """One client per configured carrier, each with its own HTTP client and limiter;
    makes no network call."""
    built: dict[str, PullClient] = {}
    for carrier, credentials in pull_carriers_of(pull_carriers).items():
        adapter = carriers.adapter_for(carrier)
        if adapter is None:
            raise ValueError(f"pull_carriers.{carrier}: no adapter reads this carrier")
        built[carrier] = CLIENTS[carrier](
            http=http(),
            credentials=credentials,
            limiter=CarrierLimiter(
                carrier, rate_limit_of(carrier, credentials), max_wait_s=max_wait_s
            ),
            retry=retry,
            adapter=adapter,
        )
    return built


class PullPoller:
    """Routes each poll to its carrier's client, else to the generic poller."""

    def __init__(
        self, clients: dict[str, PullClient], *, fallback: CarrierPoller | None = None
    ) -> None:
        self._clients = clients
        self._fallback = fallback

    async def fetch(self, *, carrier: str, tracking_number: str) -> FetchedPayload | None:
        client = self._clients.get(carrier)
        if client is not None:
            return await client.fetch(tracking_number)
        if self._fallback is not None:
            return await self._fallback.fetch(carrier=carrier, tracking_number=tracking_number)
        raise PollError(f"{carrier}: no pull client and no generic poll API")

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        if self._fallback is not None:
            await self._fallback.aclose()
