"""Form bodies for the pages that read their form from the raw request (no OpenAPI
schema describes them, so schemathesis cannot generate them): the chat's answers, the
survey, the unsubscribe confirmation, the insights login.

Rules:
- a case starts from the page's own hidden inputs (the chat's current node and step),
  so that the answer reaches the node's parser instead of a stale-node refusal, then
  changes one to four fields to hostile values (control characters, huge or empty text,
  impossible dates and numbers, markup, other encodings);
- every answer must be below 500; a body over the HTTP limit must get 413;
- deterministic for a given `random.Random`; no I/O.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from relais_cli.fuzz.webhook_cases import Expect

FIELDS: Final = (
    "choice",
    "text",
    "line1",
    "line2",
    "postal_code",
    "city",
    "country",
    "phone",
    "day",
    "period",
    "csat",
    "comment",
    "skip",
    "point_id",
    "node",
    "step",
    "api_key",
    "lang",
)
"""The field names the pages read (relais_chat.domain.forms, the insights login)."""

HOSTILE: Final = (
    "",
    " ",
    "\x00",
    "line\r\nX-Injected: 1",
    "\x1b[2Jcleared",
    "tab\tand\x7fdel",
    "\u202eright-to-left",
    "\ud7ff\ue000\ufffd",
    "😀" * 500,
    "a" * 100_000,
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "2025-02-30",
    "0000-00-00",
    "9999-12-31",
    "31/12/1999",
    "<script>alert(1)</script>",
    "{{ 7 * 7 }}",
    "' OR 1=1 --",
    "%00%0d%0a",
    "../../../etc/passwd",
    "+33 6 12 34 56 78 ext 99999999",
    "FR",
    "ZZ",
)

HIDDEN_INPUT: Final = re.compile(r"<input[^>]*type=\"hidden\"[^>]*>", re.IGNORECASE)
ATTRIBUTE: Final = re.compile(r"(name|value)=\"([^\"]*)\"")


@dataclass(frozen=True)
class FormCase:
    description: str
    body: bytes
    content_type: str
    expect: Expect


def hidden_inputs(page: str) -> dict[str, str]:
    """The hidden inputs of an HTML page (name -> value), the first of each name."""
    found: dict[str, str] = {}
    for tag in HIDDEN_INPUT.findall(page):
        attributes = dict(ATTRIBUTE.findall(tag))
        if "name" in attributes:
            found.setdefault(attributes["name"], attributes.get("value", ""))
    return found


URLENCODED: Final = "application/x-www-form-urlencoded"


def _urlencoded(fields: Mapping[str, str]) -> bytes:
    return urlencode(fields).encode()


def _multipart(fields: Mapping[str, str], boundary: str) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def form_cases(
    base: Mapping[str, str], *, rng: random.Random, count: int, app_limit: int
) -> list[FormCase]:
    """`count` random mutations of `base`, then the fixed hostile encodings."""
    cases = []
    for _ in range(count):
        fields = dict(base)
        changed = rng.sample(FIELDS, rng.randint(1, 4))
        for name in changed:
            fields[name] = rng.choice(HOSTILE)
        cases.append(
            FormCase(
                description="hostile values in " + ", ".join(changed),
                body=_urlencoded(fields),
                content_type=URLENCODED,
                expect=Expect.NO_SERVER_ERROR,
            )
        )
    boundary = "relaisfuzz" + str(rng.randrange(10**8))
    fixed = [
        ("empty body", b"", URLENCODED),
        ("the page's own hidden inputs only", _urlencoded(base), URLENCODED),
        ("duplicate fields", _urlencoded(base) + b"&text=a&text=b&choice=x&choice=y", URLENCODED),
        ("invalid percent-encoding", _urlencoded(base) + b"&text=%zz%f&line1=%", URLENCODED),
        ("bytes that are not UTF-8", _urlencoded(base) + b"&text=\xff\xfe\xc0\xaf", URLENCODED),
        ("a field without a name", b"=value&&&=" + _urlencoded(base), URLENCODED),
        ("5,000 fields", "&".join(f"f{i}=v{i}" for i in range(5000)).encode(), URLENCODED),
        (
            "multipart with a 300 kB text",
            _multipart({**base, "text": "x" * 300_000}, boundary),
            f"multipart/form-data; boundary={boundary}",
        ),
        ("multipart without a boundary", _multipart(base, boundary), "multipart/form-data"),
        ("JSON sent as a form", json.dumps({**base, "text": "hello"}).encode(), URLENCODED),
        ("JSON", json.dumps({**base, "text": "hello"}).encode(), "application/json"),
        ("plain text", b"hello", "text/plain"),
    ]
    cases += [
        FormCase(
            description=description,
            body=body,
            content_type=content_type,
            expect=Expect.NO_SERVER_ERROR,
        )
        for description, body, content_type in fixed
    ]
    cases.append(
        FormCase(
            description=f"{app_limit * 2} bytes (twice the HTTP limit)",
            body=_urlencoded({**base, "text": "x" * (app_limit * 2)}),
            content_type=URLENCODED,
            expect=Expect.TOO_LARGE,
        )
    )
    return cases
