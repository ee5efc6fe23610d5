"""Closing an action with its one result.

Rules: the action's row is closed and its result published in the same transaction
(a closed action is never reopened); a command given up on (retries exhausted) is also
dead-lettered, with the consumer group and the position it was read from.
"""

from __future__ import annotations

from datetime import datetime

from relais_actions import repository
from relais_actions.domain import delivery
from relais_actions.domain.delivery import Completed, Failed
from relais_actions.service.outgoing import Outgoing
from relais_contracts.topics import action_results, dead_letters
from relais_contracts.topics.action_commands import ExecuteAction
from relais_runtime.consumer import MessageContext
from relais_runtime.logging import get_logger
from relais_runtime.metrics import ACTION_RESULTS

log = get_logger(__name__)


async def close_action(
    step: Completed | Failed,
    *,
    command: ExecuteAction,
    context: MessageContext,
    group: str,
    now: datetime,
) -> list[Outgoing]:
    await repository.update_action(context.connection, result=step.result)
    outgoing = [Outgoing(action_results.TOPIC, step.result)]
    result = "completed" if isinstance(step, Completed) else step.result.reason.value
    ACTION_RESULTS.labels(action=command.action_type.value, result=result).inc()
    if isinstance(step, Failed) and step.dead_letter:
        letter = delivery.dead_letter(
            command,
            consumer_group=group,
            topic=context.topic,
            partition=context.partition,
            offset=context.offset,
            now=now,
        )
        outgoing.append(Outgoing(dead_letters.TOPIC, letter))
    log.info("action ended", action_id=str(command.action_id), result=result)
    return outgoing
