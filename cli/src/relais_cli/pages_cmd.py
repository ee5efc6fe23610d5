"""`relais lighthouse` and `relais screenshots`: the customer pages, measured and pictured
(relais_cli.pages_showcase does the work: imported on use, since it loads the chat)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def lighthouse(
    out: Annotated[Path, typer.Option(help="Where the JSON and HTML reports go.")] = Path(
        "artifacts/lighthouse"
    ),
) -> None:
    """Lighthouse (mobile) on the chat, tracking, lookup and survey pages: the scores
    against the target, and the reports under artifacts/lighthouse/.

    Needs the local infrastructure (`relais infra up`), Node.js with npx (the lighthouse
    package is fetched from the npm registry on first use) and Debian's Chromium. Exits
    with 1 when a page scores under the target in accessibility, performance or best
    practices (SEO is printed, not enforced: personal pages are noindex on purpose).
    """
    from relais_cli.pages_showcase import run_lighthouse

    run_lighthouse(out)


def screenshots(
    out: Annotated[Path, typer.Option(help="Where the PNG files go.")] = Path(
        "docs/screenshots/chat"
    ),
) -> None:
    """A PNG of the tracking, lookup, chat and survey pages in French and English, and
    of the tracking page of a late parcel in German and Spanish (velocity-sports), at a
    phone's width (needs `relais infra up`, Chromium and Playwright)."""
    from relais_cli.pages_showcase import run_screenshots

    run_screenshots(out)
