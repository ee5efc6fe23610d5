"""Sample emails for the docs: one per demo merchant and language, rendered for real.

    uv run python -m relais_cli.samples.notifier docs/emails [--screenshots]

Writes `<merchant>-<language>.html` (and, with --screenshots and a Chromium on the
PATH, `<merchant>-<language>.png`). The inputs are fixed and the link is signed with
a sample-only secret at a fixed time, so the output is stable: a test checks that
the committed files are current.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from relais_contracts.topics.notifications import Channel, LinkKind
from relais_notifier.adapters.customer_hashes import CustomerHashes
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.domain.triggers import MessageFacts
from relais_notifier.texts.rendering import Renderer, RenderRequest
from relais_runtime.merchants import load_merchants

SAMPLE_SECRET = "sample-only-secret-for-docs-never-used-in-production"  # noqa: S105
SAMPLE_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    merchant_id: str
    template: str
    locale: str
    time_zone: str
    first_name: str
    facts: MessageFacts


_PICKUP = MessageFacts(
    order_number="#10467",
    carrier="mondial_relay",
    tracking_number="27914563",
    pickup_point_name="Tabac Presse du Marché",
    pickup_point_address="4 place du Marché, 44000 Nantes",
    pickup_point_hours="Lun-Sam 7h30-19h30",
    pickup_hold_deadline=datetime(2026, 11, 14, 18, 30, tzinfo=UTC),
)
_LATE = MessageFacts(
    order_number="VS-58213",
    carrier="dpd",
    tracking_number="01234567890123",
    promised_delivery_by=date(2026, 10, 30),
    estimated_delivery=date(2026, 11, 4),
)

SAMPLES = (
    Sample("maison-lumiere", "pickup_ready", "fr-FR", "Europe/Paris", "Camille", _PICKUP),
    Sample("maison-lumiere", "pickup_ready", "en-GB", "Europe/Paris", "Camille", _PICKUP),
    Sample("velocity-sports", "delivery_late", "en-GB", "Europe/London", "Oliver", _LATE),
    Sample("velocity-sports", "delivery_late", "fr-FR", "Europe/Paris", "Léa", _LATE),
)


def render_samples(merchants_dir: Path) -> dict[str, str]:
    """File name -> HTML of every sample."""
    merchants = load_merchants(merchants_dir)
    renderer = Renderer()
    links = LinkMaker(
        secrets=[SAMPLE_SECRET],
        hashes=CustomerHashes(pepper=SAMPLE_SECRET),  # the samples' links, unchanged
        public_chat_base_url="https://relais.example",
        public_notifier_base_url="https://relais.example/notify",
        max_age=timedelta(days=30),
        unsubscribe_max_age=timedelta(days=365),
    )
    pages = {}
    for sample in SAMPLES:
        link = links.link(
            merchant_id=sample.merchant_id,
            kind=LinkKind.CHAT,
            subject="6f9d1c9e-0000-5000-8000-000000000001",
            now=SAMPLE_TIME,
        )
        email = renderer.email(
            RenderRequest(
                template=sample.template,
                locale=sample.locale,
                merchant=merchants[sample.merchant_id],
                first_name=sample.first_name,
                time_zone=sample.time_zone,
                facts=sample.facts,
                link=link.url,
                link_expires_at=link.expires_at,
                unsubscribe_url=links.unsubscribe_url(
                    merchant_id=sample.merchant_id,
                    channel=Channel.EMAIL,
                    address="customer@example.com",
                    now=SAMPLE_TIME,
                ),
            )
        )
        pages[f"{sample.merchant_id}-{email.language}.html"] = email.html
    return pages


def screenshot(html: Path, png: Path, *, browser: str) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=720,680",
            f"--screenshot={png}",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--merchants", type=Path, default=Path("deploy/merchants"))
    parser.add_argument("--screenshots", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    for name, html in render_samples(args.merchants).items():
        path = args.out / name
        path.write_text(html, encoding="utf-8")
        print(path)
        if args.screenshots:
            if browser is None:
                print("no chromium on the PATH: no screenshot", file=sys.stderr)
                continue
            screenshot(path, path.with_suffix(".png"), browser=browser)
            print(path.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
