"""The lookup form: an order number and the order's email address or postal code.

Rules:
- the order number is compared without spaces, without a leading `#` and in upper
  case (repository.list_shipments_by_order does the same to the stored one);
- the second field is an email address when it holds an `@` (compared in lower
  case), else a postal code (compared in upper case without spaces or hyphens);
- a field that is empty, too long or holds control characters is refused with its
  name, before anything is looked up; a refused form never tells whether an order
  exists;
- attempts are counted in fixed windows per client address and per merchant and
  order number; past a limit the answer is "try again in N seconds", whatever the
  values (so the limit itself tells nothing either).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

ORDER_FIELD = "order"
PROOF_FIELD = "proof"
MAX_ORDER_LENGTH = 64
MAX_PROOF_LENGTH = 254


@dataclass(frozen=True)
class LookupQuery:
    order_key: str
    email: str | None
    postal_code: str | None


def order_key(raw: str) -> str:
    return raw.replace(" ", "").lstrip("#").upper()


def _problem(value: str, limit: int) -> str | None:
    if not value:
        return "required"
    if len(value) > limit:
        return "lookup_too_long"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        return "control_characters"
    return None


def parse_lookup(form: Mapping[str, str]) -> LookupQuery | dict[str, str]:
    """The query, or the word key of each refused field by field name."""
    order = form.get(ORDER_FIELD, "").strip()
    proof = form.get(PROOF_FIELD, "").strip()
    errors = {
        name: problem
        for name, problem in (
            (ORDER_FIELD, _problem(order, MAX_ORDER_LENGTH)),
            (PROOF_FIELD, _problem(proof, MAX_PROOF_LENGTH)),
        )
        if problem
    }
    if errors or not order_key(order):
        return errors or {ORDER_FIELD: "required"}
    if "@" in proof:
        return LookupQuery(order_key(order), email=proof.lower(), postal_code=None)
    postal = proof.replace(" ", "").replace("-", "").upper()
    return LookupQuery(order_key(order), email=None, postal_code=postal)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def window_of(now: datetime, length: timedelta) -> Window:
    """The fixed window `now` falls in (windows start at multiples of `length` since 1970)."""
    seconds = int(length.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    return Window(start, start + length)
