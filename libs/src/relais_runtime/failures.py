"""Whose fault is a failure: the infrastructure's, the message's, or not yet anybody's.

Classified once, here, for every consumer, loop and sender of Relais:
- transient (`is_transient`): the infrastructure is bad (PostgreSQL unreachable, starting
  up, shutting down, out of connections, a serialization or deadlock conflict; Kafka
  unavailable, timing out, changing leaders; a connection to SMTP, an SMS provider or a
  merchant endpoint failing). Never the message's fault: the work is retried with capped
  backoff for as long as it takes, and nothing is dead-lettered;
- not yet (`NotYetError`): the message needs another message that has not arrived (a
  snapshot read from another topic). Retried a bounded number of times, then
  dead-lettered with kind `dependency_missing`, replayable;
- permanent (anything else, `PermanentError` by intent): the message itself is bad or
  refused by the domain. Dead-lettered at once with the reason.
"""

from __future__ import annotations

import random
from enum import StrEnum
from typing import NoReturn

import asyncpg
from aiokafka import errors as kafka_errors


class TransientError(Exception):
    """Raise for a failure of a dependency (not of the message): retried until it passes."""


class PermanentError(Exception):
    """Raise for a message that can never succeed: it is dead-lettered with this reason."""


class NotYetError(Exception):
    """Raise when a message depends on one not seen yet: retried a few times, then
    dead-lettered (kind `dependency_missing`) so an operator can replay it later."""


def unexpected_event(event: object, *, where: str) -> NoReturn:
    """The one way a handler meets an event type it was not written for.

    A handler matches the types it handles, returns early for the types it ignores on
    purpose (named in its match), and calls this for anything else: the message is
    dead-lettered with this reason, never dropped silently and never an assert.
    """
    kind = getattr(event, "event_type", None) or type(event).__name__
    raise PermanentError(f"unexpected {kind} on {where}")


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    NOT_YET = "not_yet"
    PERMANENT = "permanent"


_POSTGRES_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # 08: connection failures
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutdown, cannot connect now, cancel
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk, memory
    asyncpg.exceptions.TransactionRollbackError,  # 40: serialization failure, deadlock
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a fail-over left us on a standby
    asyncpg.exceptions.InterfaceError,  # connection closed or reset under the client
    asyncpg.exceptions.InternalClientError,  # protocol state broken by a lost connection
)
_KAFKA_TRANSIENT: tuple[type[BaseException], ...] = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.CoordinatorNotAvailableError,
    kafka_errors.NotCoordinatorForGroupError,
    kafka_errors.NotEnoughReplicasError,
    kafka_errors.NotEnoughReplicasAfterAppendError,
    kafka_errors.ProducerClosed,
)
_NETWORK_TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def classify(error: BaseException) -> FailureKind:
    if isinstance(error, NotYetError):
        return FailureKind.NOT_YET
    if is_transient(error):
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


def is_transient(error: BaseException) -> bool:
    """True when the infrastructure, not the message, failed (see the module's rules)."""
    if isinstance(error, asyncpg.exceptions.DataError):
        return False  # an argument the database refuses: the message's fault
    if isinstance(error, _POSTGRES_TRANSIENT + _NETWORK_TRANSIENT + _KAFKA_TRANSIENT):
        return True
    if isinstance(error, kafka_errors.KafkaError):
        return bool(getattr(error, "retriable", False))
    return False


def backoff_delay(failures: int, *, initial_s: float, max_s: float) -> float:
    """How long to wait after the `failures`-th failure in a row: exponential from
    `initial_s`, capped at `max_s`, with jitter (a random half to whole of it) so that
    many waiting clients never retry in step."""
    ceiling = min(max_s, initial_s * 2 ** max(failures - 1, 0))
    return random.uniform(ceiling / 2, ceiling)
