"""A chat conversation as the customer saw it, carried to the people who take it over.

Rules:
- one line per bubble, in the order shown: what the bot said (its text in the
  customer's language, tags removed), what the customer answered (as the page read it
  back), and what an agent answered from the desk;
- the whole transcript is personal data (the customer's answers, their phone number
  and address read back): every field that holds one is marked PERSONAL;
- a line's text keeps its line breaks (MultiLine) and is at most 4000 characters; a
  transcript holds at most 500 lines;
- `at` is when the line was shown: a bot line when the step before it was answered
  (the first ones when the conversation started), a customer line when it was sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import AwareDatetime, Field, StringConstraints

from relais_contracts.envelope import Contract
from relais_contracts.privacy import PERSONAL
from relais_contracts.text import MULTI_LINE

MAX_LINES: Final = 500
MAX_TEXT: Final = 4000


class Speaker(StrEnum):
    BOT = "bot"
    CUSTOMER = "customer"
    AGENT = "agent"


class TranscriptLine(Contract):
    at: AwareDatetime
    speaker: Speaker
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT), MULTI_LINE] = Field(
        json_schema_extra=PERSONAL
    )


Transcript = Annotated[
    tuple[TranscriptLine, ...],
    Field(
        default=(),
        max_length=MAX_LINES,
        description="The conversation as the customer saw it, oldest first.",
        json_schema_extra=PERSONAL,
    ),
]
"""A whole transcript: empty when there was no conversation (or an older producer)."""
