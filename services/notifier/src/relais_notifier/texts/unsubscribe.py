"""The unsubscribe page: in the language the browser asks for among the merchant's (else
the catalogue's rules), in the merchant's branding, or Relais's when the link names no
merchant we can trust (a bad or expired link)."""

from __future__ import annotations

from relais_notifier.texts.rendering import (
    CATALOGUE_LANGUAGES,
    Renderer,
    catalogue,
    resolve_language,
)
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.branding import Tone

DEFAULT_COLORS = {
    "primary": "#1f4e79",
    "accent": "#f2a900",
    "background": "#ffffff",
    "text": "#1a1a1a",
}
LINK_ERRORS = {
    "en": {
        "invalid": "This link is not valid.",
        "expired": "This link has expired.",
    },
    "fr": {
        "invalid": "Ce lien n'est pas valide.",
        "expired": "Ce lien a expiré.",
    },
}
assert set(LINK_ERRORS) == set(CATALOGUE_LANGUAGES)


def unsubscribe_page(
    renderer: Renderer,
    *,
    accept_language: str,
    merchant: MerchantConfig | None,
    key: str,
    form: bool,
) -> str:
    """The page's HTML; `key` names its message (confirm, done, invalid, expired)."""
    wanted = accept_language.split(",")[0].strip()
    language = resolve_language(wanted or "und", merchant.locales if merchant else ())
    tone = merchant.branding.tone if merchant else Tone.FORMAL
    texts = catalogue(language, tone)["_unsubscribe"]
    name = merchant.branding.display_name if merchant else "Relais"
    colors = merchant.branding.colors if merchant else None
    message = texts.get(key) or LINK_ERRORS[language][key]
    return renderer.page(
        "unsubscribe.html.j2",
        language=language,
        title=texts["title"],
        merchant=name,
        colors=colors or DEFAULT_COLORS,
        message=renderer.fill_text(message, merchant=name),
        button=texts["button"],
        form=form,
    )
