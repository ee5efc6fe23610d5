"""Detection: the merchant's anomaly thresholds, switched-off types and escalation delay.

Rules:
- every threshold has a default (below, and in docs/detector.md); a merchant file
  only writes what it changes;
- a type listed in `disabled` is never opened for this merchant, and no timer is
  kept for it;
- `lost_after_hours` must be above `stalled_after_hours` (lost is "stalled far
  beyond N");
- an open anomaly of severity warning or critical escalates every
  `escalate_after_hours` until `max_escalation_level`; `escalate_after_hours: null`
  turns escalation off.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from relais_contracts.catalogue import AnomalyType
from relais_runtime.merchants.base import Section

_MONTH_HOURS = 24 * 31


class DetectionPolicy(Section):
    disabled: frozenset[AnomalyType] = Field(
        default=frozenset(), description="Anomaly types never opened for this merchant."
    )
    preparation_grace_hours: float = Field(
        default=0, ge=0, le=_MONTH_HOURS, description="After the promised ship-by time."
    )
    delivery_late_grace_hours: float = Field(
        default=0,
        ge=0,
        le=_MONTH_HOURS,
        description="After the end of the promised delivery day (customer's time zone).",
    )
    stalled_after_hours: float = Field(
        default=72, gt=0, le=_MONTH_HOURS, description="No carrier scan for this long."
    )
    lost_after_hours: float = Field(
        default=240, gt=0, le=3 * _MONTH_HOURS, description="No carrier scan for this long."
    )
    pickup_hold_warning_hours: float = Field(
        default=48, gt=0, le=_MONTH_HOURS, description="Before the pickup point's hold deadline."
    )
    escalate_after_hours: float | None = Field(default=48, gt=0, le=_MONTH_HOURS)
    max_escalation_level: int = Field(default=2, ge=1, le=10)

    @model_validator(mode="after")
    def _lost_beyond_stalled(self) -> Self:
        if self.lost_after_hours <= self.stalled_after_hours:
            raise ValueError(
                f"lost_after_hours ({self.lost_after_hours}) must be above "
                f"stalled_after_hours ({self.stalled_after_hours})"
            )
        return self

    def enabled(self, anomaly_type: AnomalyType) -> bool:
        return anomaly_type not in self.disabled
