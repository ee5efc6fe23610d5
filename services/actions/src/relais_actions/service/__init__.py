"""The actions service's application steps: repository, domain and adapters together.

- decisions: a choice, a callback request or an anomaly becomes an action, or a refusal;
- execution: one ExecuteAction attempt, then the next retry or the action's result;
- attempts: the webhook call behind the endpoint's circuit breaker, recorded first;
- results: an action closed with its one result (and a dead letter when given up on);
- outgoing: what a step asks its handler to publish in the same transaction.
"""

from relais_actions.service.attempts import WebhookCaller
from relais_actions.service.decisions import Decisions
from relais_actions.service.execution import Executor
from relais_actions.service.outgoing import Outgoing

__all__ = ["Decisions", "Executor", "Outgoing", "WebhookCaller"]
