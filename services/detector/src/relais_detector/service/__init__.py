"""The detector's application: evaluate each input and store its decision (detection),
and fire the durable timers (sweeper)."""

from relais_detector.service.decisions import apply_decision
from relais_detector.service.detection import Detection, DetectorTopics, erase_shipment
from relais_detector.service.sweeper import FireOutcome, Sweeper

__all__ = [
    "Detection",
    "DetectorTopics",
    "FireOutcome",
    "Sweeper",
    "apply_decision",
    "erase_shipment",
]
