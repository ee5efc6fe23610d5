"""What a merchant lets the chat offer: choices that lead only to refused actions are hidden.

Rules:
- a choice is offered when at least one ending reachable from it is not an action the
  merchant refuses (a callback, a wait, an end, or an allowed action); the actions
  service would refuse the others (ActionFailed not_allowed), so the customer never
  picks what cannot be done;
- a question keeps all its choices if none would be left (a scenario always ends);
- a merchant without an `actions` section restricts nothing here: nothing is set up
  to carry out, and the actions service reports every action as refused.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from relais_chat.domain.scenarios import (
    TERMINAL_KINDS,
    QuestionNode,
    ResolutionNode,
    Scenario,
    successors,
)
from relais_contracts.actions import ActionType


def offered_to(scenario: Scenario, allowed: Collection[ActionType] | None) -> Scenario:
    """The scenario with the choices the merchant's allowed actions cannot fulfil removed."""
    if allowed is None:
        return scenario
    nodes = dict(scenario.nodes)
    for node_id, node in scenario.nodes.items():
        if not isinstance(node, QuestionNode):
            continue
        kept = tuple(
            choice for choice in node.choices if _can_end_well(scenario, choice.next, allowed)
        )
        if kept and len(kept) != len(node.choices):
            nodes[node_id] = node.model_copy(update={"choices": kept})
    return replace(scenario, nodes=nodes)


def _can_end_well(scenario: Scenario, start: str, allowed: Collection[ActionType]) -> bool:
    seen: set[str] = set()
    pending = [start]
    while pending:
        node_id = pending.pop()
        if node_id in seen or node_id not in scenario.nodes:
            continue
        seen.add(node_id)
        node = scenario.nodes[node_id]
        if node.kind in TERMINAL_KINDS:
            if not isinstance(node, ResolutionNode):
                return True
            action = scenario.action_of(node)
            if action is None or action in allowed:
                return True
        pending.extend(successors(node))
    return False
