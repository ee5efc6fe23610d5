"""Actions: what the merchant lets Relais ask its systems to do, and how to reach them.

Rules:
- an action type not listed in `allowed` is refused (recorded, reported as
  ActionFailed not_allowed), never sent;
- an automatic rule runs an action without asking the customer when an anomaly of
  one of its types is detected and, if it sets `max_order_value`, the order's value
  is known, in the same currency and not above it; only actions that need no answer
  from the customer can be automatic (reship, refund, store credit, return label),
  and they must be allowed;
- the webhook's signing secret is a reference (env or file), resolved at start-up;
  `previous_secrets` are signed with too during a rotation (one match is enough);
- `signature` chooses how the calls are signed: `relais` (the default, the
  `Relais-Signature` header of relais_contracts.webhooks), `standard` (Standard Webhooks,
  standardwebhooks.com: `webhook-id`, `webhook-timestamp`, `webhook-signature`, so the
  merchant can verify with any Standard Webhooks library) or `both` (both sets of
  headers, to move a receiver from one to the other); `standard` and `both` need
  secrets of the form `whsec_<base64 of 24 to 64 random bytes>`, checked at start-up;
- `timeout_s` bounds one call; `max_attempts` counts every try, including those
  skipped while the circuit breaker is open; after the last one the action is
  dead-lettered and escalated to a human.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Self

from pydantic import Field, HttpUrl, StringConstraints, model_validator

from relais_contracts.actions import ActionType
from relais_contracts.catalogue import AnomalyType
from relais_runtime.merchants.base import SecretRef, Section

AUTOMATABLE_ACTIONS = frozenset(
    {ActionType.RESHIP, ActionType.REFUND, ActionType.STORE_CREDIT, ActionType.RETURN_LABEL}
)
"""Actions whose parameters can be left to their defaults (no customer input needed)."""


class MoneyLimit(Section):
    amount: Decimal = Field(ge=0, max_digits=15, decimal_places=4)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class SignatureScheme(StrEnum):
    RELAIS = "relais"
    """`Relais-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    STANDARD = "standard"
    """Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<t>.<body>")>`
    where the key is the base64-decoded part of a `whsec_` secret."""
    BOTH = "both"
    """Both sets of headers (while a receiver moves from one scheme to the other)."""

    @property
    def relais(self) -> bool:
        return self in {SignatureScheme.RELAIS, SignatureScheme.BOTH}

    @property
    def standard(self) -> bool:
        return self in {SignatureScheme.STANDARD, SignatureScheme.BOTH}


STANDARD_SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
STANDARD_KEY_BYTES: Final = (24, 64)
"""Standard Webhooks: a symmetric key of at least 24 bytes (192 bits), at most 64 (512 bits)."""


def standard_webhook_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (`whsec_` + base64); ValueError naming
    what is wrong (never the secret itself)."""
    if not secret.startswith(STANDARD_SECRET_PREFIX):
        raise ValueError(
            f"a standard signature needs a secret starting with {STANDARD_SECRET_PREFIX}"
        )
    try:
        key = base64.b64decode(secret.removeprefix(STANDARD_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after {STANDARD_SECRET_PREFIX} is not base64") from None
    low, high = STANDARD_KEY_BYTES
    if not low <= len(key) <= high:
        raise ValueError(
            f"a standard signature key has {low} to {high} bytes once decoded, not {len(key)}"
        )
    return key


class Webhook(Section):
    url: HttpUrl
    secret: SecretRef
    previous_secrets: tuple[SecretRef, ...] = Field(default=(), max_length=3)
    timeout_s: float = Field(default=10.0, gt=0, le=60)
    signature: SignatureScheme = Field(
        default=SignatureScheme.RELAIS,
        description="relais (Relais-Signature), standard (Standard Webhooks) or both.",
    )


class CircuitBreakerSettings(Section):
    failure_threshold: int = Field(
        default=5, ge=1, le=100, description="Consecutive failures that open the circuit."
    )
    cool_down_s: float = Field(
        default=60.0, gt=0, le=3600, description="Open time before one trial call (half-open)."
    )


class AutomaticRule(Section):
    anomaly_types: tuple[AnomalyType, ...] = Field(min_length=1)
    action: ActionType
    max_order_value: MoneyLimit | None = None

    @model_validator(mode="after")
    def _automatable(self) -> Self:
        if self.action not in AUTOMATABLE_ACTIONS:
            allowed = ", ".join(sorted(AUTOMATABLE_ACTIONS))
            raise ValueError(
                f"{self.action.value} needs the customer's input; use one of {allowed}"
            )
        return self


class Actions(Section):
    webhook: Webhook
    allowed: tuple[ActionType, ...] = Field(default=(), description="Empty: nothing allowed.")
    automatic: tuple[AutomaticRule, ...] = ()
    max_attempts: int = Field(default=5, ge=1, le=20)
    circuit_breaker: CircuitBreakerSettings = CircuitBreakerSettings()

    @model_validator(mode="after")
    def _automatic_actions_are_allowed(self) -> Self:
        for rule in self.automatic:
            if rule.action not in self.allowed:
                raise ValueError(f"automatic action {rule.action.value} is not in allowed")
        return self

    def allows(self, action: ActionType) -> bool:
        return action in self.allowed
