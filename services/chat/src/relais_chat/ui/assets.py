"""The pages' static files, served by the chat itself (no CDN, no build step).

Rule: each file is read once, on first use, and served with a day's cache and an
ETag of its content, so a new release is fetched again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

STATIC_DIR: Final = Path(__file__).parent.parent / "static"
STATIC_FILES: Final = {"chat.css": "text/css", "chat.js": "text/javascript"}
CACHE_CONTROL: Final = "public, max-age=86400"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def assets() -> Mapping[str, Asset]:
    found = {}
    for name, media_type in STATIC_FILES.items():
        body = (STATIC_DIR / name).read_bytes()
        found[name] = Asset(body, media_type, hashlib.sha256(body).hexdigest()[:16])
    return found
