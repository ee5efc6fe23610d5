"""The version Relais reports about itself: in /health and in `relais_build_info`.

Every Relais package is released together under one semantic version, so the
version of the shared runtime's distribution (`relais-runtime`, libs/pyproject.toml)
is the version of the running service.
"""

from __future__ import annotations

import functools
from importlib import metadata

DISTRIBUTION = "relais-runtime"
UNKNOWN = "0+unknown"


@functools.cache
def version() -> str:
    """The installed `relais-runtime` version; "0+unknown" when it is not installed
    (the sources on sys.path without the package's metadata)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN
