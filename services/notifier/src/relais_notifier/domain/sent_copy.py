"""The copy of a sent message kept for the back office, its links neutralised.

Rules:
- a link's target never survives: every `href` value becomes `#`, and every other
  http(s) URL, in the HTML, the text, the subject or an SMS, becomes `[link]`; the
  customer's signed links and unsubscribe tokens live only in those URLs, so the copy
  holds none of them;
- an image's `src` is kept (the merchant's logo and product pictures, public assets the
  notifier never signs), so the copy looks like the message;
- an email's copy is {subject, html, text}, an SMS's {body}; nothing else is kept.
"""

from __future__ import annotations

import re
from typing import Final

LINK_PLACEHOLDER: Final = "[link]"
HREF: Final = re.compile(r"""(\bhref\s*=\s*)(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
URL: Final = re.compile(r"""\bhttps?://[^\s<>"']+""", re.IGNORECASE)
IMAGE_SOURCE_URL: Final = re.compile(
    r"""(\bsrc\s*=\s*["']?)(https?://[^\s<>"']+)|\bhttps?://[^\s<>"']+""", re.IGNORECASE
)


def neutralised_text(text: str) -> str:
    """The text with every URL replaced by `[link]`."""
    return URL.sub(LINK_PLACEHOLDER, text)


def neutralised_html(html: str) -> str:
    """The HTML with every `href` pointing to `#` and every other URL but an image's
    `src` replaced by `[link]`."""
    without_targets = HREF.sub(r'\1"#"', html)
    return IMAGE_SOURCE_URL.sub(
        lambda found: found.group(0) if found.group(1) else LINK_PLACEHOLDER, without_targets
    )


def email_copy(*, subject: str, html: str | None, text: str | None) -> dict[str, str | None]:
    return {
        "subject": neutralised_text(subject),
        "html": neutralised_html(html) if html is not None else None,
        "text": neutralised_text(text) if text is not None else None,
    }


def sms_copy(*, body: str) -> dict[str, str | None]:
    return {"body": neutralised_text(body)}
