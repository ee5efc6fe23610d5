"""Which detection policy applies to a merchant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.detection import DetectionPolicy

DEFAULT_POLICY = DetectionPolicy()


@dataclass(frozen=True)
class PolicyBook:
    """Every merchant's detection policy; a merchant without a file gets the defaults."""

    policies: Mapping[str, DetectionPolicy] = field(default_factory=dict)

    @classmethod
    def of(cls, merchants: Mapping[str, MerchantConfig]) -> PolicyBook:
        return cls({merchant_id: config.detection for merchant_id, config in merchants.items()})

    def for_merchant(self, merchant_id: str) -> DetectionPolicy:
        return self.policies.get(merchant_id, DEFAULT_POLICY)
