"""axe-core in the page under test: the accessibility checks of the browser tests.

The minified axe-core of the npm package is vendored in tests/e2e/vendor/ and
evaluated through the DevTools protocol (page.evaluate), so the page's own
Content-Security-Policy stays as served (no inline script tag is added) and nothing
is fetched from a CDN.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE_FILE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@cache
def axe_source() -> str:
    return AXE_FILE.read_text(encoding="utf-8")


async def violations(page: Page) -> list[dict[str, Any]]:
    """Every axe violation of serious or critical impact on the page as it is now."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source())
    result: dict[str, Any] = await page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(found: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in found
    )
