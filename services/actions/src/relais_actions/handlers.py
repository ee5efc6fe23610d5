"""The actions's consumers and HTTP routes (thin: decode, call the domain, publish).

Skeleton: the actions starts, migrates its schema, reaches Kafka and PostgreSQL and
serves health, readiness and metrics. Its subscriptions arrive with issue 7;
until then it consumes nothing, so no message is committed unhandled.
"""

from __future__ import annotations

from relais_runtime.service import Dependencies, Wiring


def wire(dependencies: Dependencies) -> Wiring:
    return Wiring()
