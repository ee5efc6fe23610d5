"""The detector's decisions, as pure functions of (facts, memory, policy, now).

- facts: what the detector keeps of a shipment state;
- carrier_events / deadlines: when each anomaly type holds, said by the last carrier
  event (one rule per type) or by a deadline the clock passed;
- triggers: the types that hold at an instant, with their evidence and *episode* (the
  fact an anomaly is about: the promise missed, the scan it stalled after, the attempt);
- rules: how an open type lives (what clears it, what supersedes it);
- evaluation / action_results: the decision, built by decision.DecisionBuilder;
- timers: the durable wake-ups a decision asks for; policies: a merchant's policy.

Every id is derived (relais_contracts.ids), so evaluating the same input twice
produces the same events, which the outbox and consumers drop as duplicates.
"""

from relais_contracts.catalogue import AnomalyType
from relais_detector.domain.action_results import on_action_result
from relais_detector.domain.decision import Decision
from relais_detector.domain.evaluation import evaluate
from relais_detector.domain.facts import ShipmentFacts
from relais_detector.domain.memory import AnomalyRecord, Memory
from relais_detector.domain.policies import PolicyBook
from relais_detector.domain.timers import Timer, TimerKind
from relais_runtime.merchants.detection import DetectionPolicy

__all__ = [
    "AnomalyRecord",
    "AnomalyType",
    "Decision",
    "DetectionPolicy",
    "Memory",
    "PolicyBook",
    "ShipmentFacts",
    "Timer",
    "TimerKind",
    "evaluate",
    "on_action_result",
]
