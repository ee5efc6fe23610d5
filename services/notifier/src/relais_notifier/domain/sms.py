"""SMS length: GSM-7 or UCS-2, and how many segments a text costs.

Rules (3GPP TS 23.038 / 23.040):
- a text that the GSM 03.38 alphabet can carry is sent in GSM-7: 160 septets in a
  single SMS, 153 per segment once it is split (the concatenation header takes 7);
  characters of the extension table (€ [ ] { } ~ ^ | \\) take two septets and an
  escape pair is never split across segments;
- any other text is sent in UCS-2: 70 UTF-16 code units in a single SMS, 67 per
  segment once split; a surrogate pair (an emoji) is never split.
Which characters GSM 03.38 carries comes from the `gsm0338` codec, not a copy here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import gsm0338  # type: ignore[import-untyped]  # noqa: F401  (registers "gsm03.38")

GSM_SINGLE = 160
GSM_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SmsLength:
    encoding: SmsEncoding
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
    segments: int


def _gsm_costs(text: str) -> list[int] | None:
    try:
        return [len(char.encode("gsm03.38")) for char in text]
    except UnicodeEncodeError:
        return None


def _ucs2_costs(text: str) -> list[int]:
    return [len(char.encode("utf-16-le")) // 2 for char in text]


def _pack(costs: list[int], *, single: int, part: int) -> int:
    total = sum(costs)
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments


def measure_sms(text: str) -> SmsLength:
    """The encoding, length in units and segment count of `text` (empty text: 1 segment)."""
    gsm = _gsm_costs(text)
    if gsm is not None:
        segments = _pack(gsm, single=GSM_SINGLE, part=GSM_PART)
        return SmsLength(encoding=SmsEncoding.GSM7, units=sum(gsm), segments=segments)
    ucs2 = _ucs2_costs(text)
    segments = _pack(ucs2, single=UCS2_SINGLE, part=UCS2_PART)
    return SmsLength(encoding=SmsEncoding.UCS2, units=sum(ucs2), segments=segments)
