"""What the detector already decided for a shipment (read back before every evaluation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from relais_contracts.catalogue import AnomalyType, Milestone, ResolutionReason, Severity


@dataclass(frozen=True)
class AnomalyRecord:
    """One occurrence of one anomaly type on one shipment."""

    anomaly_type: AnomalyType
    anomaly_id: UUID
    occurrence: int
    episode: str
    severity: Severity
    level: int
    opened_at: datetime
    escalated_at: datetime | None = None
    resolution: ResolutionReason | None = None
    resolved_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.resolution is None


@dataclass(frozen=True)
class Memory:
    """What the detector already decided for a shipment: the latest occurrence of each
    type, and the milestones already announced."""

    anomalies: Mapping[AnomalyType, AnomalyRecord]
    milestones: frozenset[Milestone] = frozenset()

    @classmethod
    def empty(cls) -> Memory:
        return cls(anomalies={})
