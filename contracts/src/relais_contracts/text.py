"""Free text in the contracts: which control characters a field may hold.

Rules:
- a control character is Unicode category Cc: U+0000-U+001F and U+007F-U+009F (NUL,
  TAB, LF, CR, ESC, DEL and the C1 controls); nothing else is one;
- `SingleLine` (the default for free text: order numbers, names, address lines,
  product names, carrier descriptions and codes, ids written by people) refuses
  every control character: such a value ends up in email headers, SMS, CSV exports,
  logs and merchants' systems, where a CR or LF splits a line and a NUL or ESC is
  read as a command;
- `MultiLine` refuses every control character except LF ("\\n"); it is for text a
  person types in a text area and expects to keep its line breaks: the customer's
  chat answers, notes and comments, a return reason, delivery instructions, a pickup
  point's opening hours. CR is refused too: whoever reads a text area turns its
  CRLF line breaks into LF (`normalize_line_breaks`);
- a refusal is a validation error on the field (its `loc`), saying which character
  and where, never echoing the value (it may be personal data); at the HTTP edge that
  is a 4xx naming the field, on Kafka a dead letter;
- `NeutralizedLine` never refuses: each run of control characters becomes one space.
  It is only for what Relais reports from a third party's words that it cannot send
  back (an SMTP reply, a provider's message id, a merchant's webhook answer, a
  received Content-Type, a failure detail): refusing those would stop the report of a
  failure, never the failure itself. Text that comes *in* from a third party and is
  normalized into a contract field (carrier descriptions, locations) is neutralized by
  the mapping with `neutralize_control_characters` before it reaches the model;
- each type has an `Optional...` twin (`str | None`): declare `name: OptionalSingleLine
  = Field(default=None, max_length=N)`, not `SingleLine | None`, so that pydantic keeps
  its own length checks and messages on the string; in a container, put the length
  before the rule: `Annotated[str, StringConstraints(max_length=N), SINGLE_LINE]`;
- raw carrier payloads (CarrierUpdateReceived.payload) and dead letters are plain
  `str` on purpose: they hold bad input as received, and Relais's diagnosis of it,
  and must always be publishable;
- in the JSON Schema, the refusing types add a `pattern` that says the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

CONTROL_CHARACTERS: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
"""One character of Unicode category Cc."""

CONTROL_CHARACTERS_BUT_LF: Final = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""One character of Unicode category Cc other than LF."""

SINGLE_LINE_PATTERN: Final = r"^[^\u0000-\u001f\u007f-\u009f]*$"
"""The JSON Schema (ECMA 262) pattern of SingleLine."""

MULTI_LINE_PATTERN: Final = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$"
"""The JSON Schema (ECMA 262) pattern of MultiLine."""

_RUNS: Final = re.compile("[\x00-\x1f\x7f-\x9f]+")
_CHARACTER_NAMES: Final = {
    "\x00": "NUL",
    "\t": "TAB",
    "\n": "LF",
    "\r": "CR",
    "\x1b": "ESC",
    "\x7f": "DEL",
}


def first_control_character(value: str, *, allow_newline: bool = False) -> int | None:
    """The index of the first control character of `value` (LF excepted when
    `allow_newline`), or None when there is none."""
    pattern = CONTROL_CHARACTERS_BUT_LF if allow_newline else CONTROL_CHARACTERS
    found = pattern.search(value)
    return None if found is None else found.start()


def describe_character(character: str) -> str:
    """`U+000A (LF)`: the code point, and its usual name when it has a short one."""
    name = _CHARACTER_NAMES.get(character)
    code = f"U+{ord(character):04X}"
    return f"{code} ({name})" if name else code


def neutralize_control_characters(value: str) -> str:
    """`value` with each run of control characters replaced by one space."""
    return _RUNS.sub(" ", value)


def normalize_line_breaks(value: str) -> str:
    """`value` with CRLF and lone CR line breaks written LF (as browsers send a text
    area's value with CRLF)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def refuse_control_characters(value: str, *, allow_newline: bool = False) -> str:
    """`value` unchanged; ValueError naming the first control character and its
    position (never the value) when there is one."""
    index = first_control_character(value, allow_newline=allow_newline)
    if index is None:
        return value
    allowed = "only line breaks (LF)" if allow_newline else "none"
    raise ValueError(
        f"control character {describe_character(value[index])} at position {index}; "
        f"this text allows {allowed}"
    )


@dataclass(frozen=True)
class TextRule:
    """Annotation metadata checking (or neutralizing) the control characters of a str
    (or `str | None`) after pydantic's own string checks (type, length)."""

    allow_newline: bool = False
    neutralize: bool = False

    def apply(self, value: str | None) -> str | None:
        if value is None:
            return None
        if self.neutralize:
            return neutralize_control_characters(value)
        return refuse_control_characters(value, allow_newline=self.allow_newline)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.apply, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if self.neutralize:
            return json_schema
        pattern = MULTI_LINE_PATTERN if self.allow_newline else SINGLE_LINE_PATTERN
        for branch in json_schema.get("anyOf", [json_schema]):
            if branch.get("type") == "string":
                branch.setdefault("pattern", pattern)
        return json_schema


SINGLE_LINE: Final = TextRule()
MULTI_LINE: Final = TextRule(allow_newline=True)
NEUTRALIZED: Final = TextRule(neutralize=True)

SingleLine = Annotated[str, SINGLE_LINE]
"""Free text on one line: every control character (CR, LF, TAB, NUL...) is refused."""

OptionalSingleLine = Annotated[str | None, SINGLE_LINE]
"""SingleLine or None."""

MultiLine = Annotated[str, MULTI_LINE]
"""Free text typed in a text area: LF line breaks, every other control character refused."""

OptionalMultiLine = Annotated[str | None, MULTI_LINE]
"""MultiLine or None."""

NeutralizedLine = Annotated[str, NEUTRALIZED]
"""Third-party wording Relais reports: each run of control characters becomes a space."""

OptionalNeutralizedLine = Annotated[str | None, NEUTRALIZED]
"""NeutralizedLine or None."""
