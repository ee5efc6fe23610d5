"""What an application step asks to publish.

Rule: the handler enqueues it in the transaction of the message that caused it (the
outbox), in the order given, together with the step's own writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from relais_contracts.envelope import Event
from relais_contracts.registry import Topic


@dataclass(frozen=True)
class Outgoing:
    topic: Topic
    event: Event
