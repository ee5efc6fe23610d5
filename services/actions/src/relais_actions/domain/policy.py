"""Policy: what the merchant's systems are asked to do, decided before anything is sent.

Rules:
- a ResolutionChosen with outcome execute_action, and every CallbackRequested
  (a callback ticket for the merchant's helpdesk), become one action each; other
  outcomes (wait, confirm received) ask nothing of the merchant;
- an AnomalyDetected matching an automatic rule of the merchant becomes one automatic
  action (the first matching rule; at most one per anomaly), but only when a value
  limit, if any, is provably respected: the order's value is known, in the rule's
  currency and not above the limit;
- the action id is `ids.action_id(source, action type)`: the resolution, callback or
  anomaly it carries out. Deciding twice yields the same id, and the repository
  keeps the first decision;
- an action the merchant has not allowed (or a merchant with no actions section) is
  refused: ActionFailed not_allowed, never sent; an action whose anomaly was already
  cleared by the facts (delivered, picked up) or by the order's cancellation is
  refused as expired. A callback is never expired: a human was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from relais_actions.domain.ids import command_event_id, result_event_id
from relais_contracts.actions import (
    ActionRequest,
    ActionType,
    CallbackTicketRequest,
    RefundRequest,
    ReshipRequest,
    ReturnLabelRequest,
    StoreCreditRequest,
)
from relais_contracts.catalogue import AnomalyType, ResolutionReason
from relais_contracts.ids import action_id
from relais_contracts.shipment import ShipmentContext
from relais_contracts.topics.action_commands import ExecuteAction
from relais_contracts.topics.action_results import ActionFailed, ActionFailureReason
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_contracts.topics.conversations import (
    CallbackRequested,
    ResolutionChosen,
    ResolutionOutcome,
)
from relais_runtime.merchants.actions import Actions, AutomaticRule

EXPIRING_RESOLUTIONS = frozenset({ResolutionReason.FACTS_CHANGED, ResolutionReason.ORDER_CANCELLED})
"""An anomaly closed for one of these reasons makes its pending actions pointless."""


@dataclass(frozen=True)
class Source:
    """What an action carries out: the event, its subject and the shipment snapshot."""

    event_id: UUID
    source_id: UUID
    merchant_id: str
    shipment_id: str
    correlation_id: str
    decided_at: datetime
    request: ActionRequest
    automatic: bool
    shipment: ShipmentContext
    anomaly_id: UUID | None = None
    anomaly_type: AnomalyType | None = None
    conversation_id: UUID | None = None

    @property
    def action_id(self) -> UUID:
        return action_id(self.source_id, self.request.action.value)


@dataclass(frozen=True)
class Execute:
    command: ExecuteAction


@dataclass(frozen=True)
class Refuse:
    result: ActionFailed


Decision = Execute | Refuse


def source_of_resolution(event: ResolutionChosen, *, shipment: ShipmentContext) -> Source | None:
    """The action a resolution asks for, or None when it asks nothing of the merchant."""
    if event.outcome is not ResolutionOutcome.EXECUTE_ACTION or event.action is None:
        return None
    return Source(
        event_id=event.event_id,
        source_id=event.resolution_id,
        merchant_id=event.merchant_id,
        shipment_id=event.shipment_id,
        correlation_id=event.correlation_id,
        decided_at=event.occurred_at,
        request=event.action,
        automatic=False,
        shipment=shipment,
        anomaly_id=event.anomaly_id,
        anomaly_type=event.anomaly_type,
        conversation_id=event.conversation_id,
    )


def source_of_callback(event: CallbackRequested, *, shipment: ShipmentContext) -> Source:
    return Source(
        event_id=event.event_id,
        source_id=event.callback_id,
        merchant_id=event.merchant_id,
        shipment_id=event.shipment_id,
        correlation_id=event.correlation_id,
        decided_at=event.occurred_at,
        request=CallbackTicketRequest(
            phone=event.phone, slot=event.slot, note=event.note, transcript=event.transcript
        ),
        automatic=False,
        shipment=shipment,
        anomaly_id=event.anomaly_id,
        anomaly_type=event.anomaly_type,
        conversation_id=event.conversation_id,
    )


def source_of_anomaly(event: AnomalyDetected, *, config: Actions | None) -> Source | None:
    """The automatic action the merchant wants for this anomaly, if any."""
    rule = matching_rule(event, config=config)
    if rule is None:
        return None
    return Source(
        event_id=event.event_id,
        source_id=event.anomaly_id,
        merchant_id=event.merchant_id,
        shipment_id=event.shipment_id,
        correlation_id=event.correlation_id,
        decided_at=event.occurred_at,
        request=default_request(rule.action),
        automatic=True,
        shipment=event.shipment,
        anomaly_id=event.anomaly_id,
        anomaly_type=event.anomaly_type,
    )


def matching_rule(event: AnomalyDetected, *, config: Actions | None) -> AutomaticRule | None:
    if config is None:
        return None
    for rule in config.automatic:
        if event.anomaly_type in rule.anomaly_types and within_limit(rule, event.shipment):
            return rule
    return None


def within_limit(rule: AutomaticRule, shipment: ShipmentContext) -> bool:
    limit = rule.max_order_value
    if limit is None:
        return True
    value = shipment.order_value
    return value is not None and value.currency == limit.currency and value.amount <= limit.amount


def default_request(action: ActionType) -> ActionRequest:
    """The parameters of an automatic action: the defaults (whole parcel, full value)."""
    requests: dict[ActionType, ActionRequest] = {
        ActionType.RESHIP: ReshipRequest(),
        ActionType.REFUND: RefundRequest(),
        ActionType.STORE_CREDIT: StoreCreditRequest(),
        ActionType.RETURN_LABEL: ReturnLabelRequest(),
    }
    if action not in requests:
        raise ValueError(f"{action.value} cannot be automatic")
    return requests[action]


def decide(
    source: Source,
    *,
    config: Actions | None,
    anomaly_resolution: ResolutionReason | None = None,
) -> Decision:
    """Execute the action, or refuse it (not allowed, or expired) with a recorded reason."""
    action = source.request.action
    if config is None or not config.allows(action):
        return Refuse(
            refusal(source, reason=ActionFailureReason.NOT_ALLOWED, detail=not_allowed(action))
        )
    if action is not ActionType.CALLBACK_TICKET and anomaly_resolution in EXPIRING_RESOLUTIONS:
        assert anomaly_resolution is not None
        detail = f"the anomaly was closed ({anomaly_resolution.value}) before the action ran"
        return Refuse(refusal(source, reason=ActionFailureReason.EXPIRED, detail=detail))
    return Execute(first_command(source))


def not_allowed(action: ActionType) -> str:
    return f"the merchant does not allow {action.value}"


def first_command(source: Source) -> ExecuteAction:
    return ExecuteAction(
        event_id=command_event_id(source.action_id, 1),
        occurred_at=source.decided_at,
        merchant_id=source.merchant_id,
        correlation_id=source.correlation_id,
        shipment_id=source.shipment_id,
        action_id=source.action_id,
        request=source.request,
        automatic=source.automatic,
        source_event_id=source.event_id,
        anomaly_id=source.anomaly_id,
        anomaly_type=source.anomaly_type,
        conversation_id=source.conversation_id,
        shipment=source.shipment,
        attempt=1,
    )


def refusal(source: Source, *, reason: ActionFailureReason, detail: str) -> ActionFailed:
    return ActionFailed(
        event_id=result_event_id(source.action_id),
        occurred_at=source.decided_at,
        merchant_id=source.merchant_id,
        correlation_id=source.correlation_id,
        shipment_id=source.shipment_id,
        action_id=source.action_id,
        action=source.request.action,
        order_id=source.shipment.order_id,
        order_number=source.shipment.order_number,
        automatic=source.automatic,
        anomaly_id=source.anomaly_id,
        anomaly_type=source.anomaly_type,
        conversation_id=source.conversation_id,
        attempts=0,
        reason=reason,
        detail=detail,
        escalated=False,
    )
