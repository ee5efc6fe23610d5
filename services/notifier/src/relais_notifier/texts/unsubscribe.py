"""The unsubscribe page: in the language the browser asks for (else the catalogue's
rules), in the merchant's branding, or Relais's when the link names no merchant we can
trust (a bad or expired link). Its link errors are platform words (`notifier.po`)."""

from __future__ import annotations

from relais_notifier.texts.rendering import Renderer, catalogue, resolve_language
from relais_notifier.texts.translations import platform_texts
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.branding import Tone

DEFAULT_COLORS = {
    "primary": "#1f4e79",
    "accent": "#f2a900",
    "background": "#ffffff",
    "text": "#1a1a1a",
}


def unsubscribe_page(
    renderer: Renderer,
    *,
    accept_language: str,
    merchant: MerchantConfig | None,
    key: str,
    form: bool,
) -> str:
    """The page's HTML; `key` names its message (confirm, done, invalid, expired)."""
    wanted = accept_language.split(",")[0].split(";")[0].strip()
    language = resolve_language(wanted or "und", merchant.locales if merchant else ())
    tone = merchant.branding.tone if merchant else Tone.FORMAL
    texts = catalogue(language, tone)["_unsubscribe"]
    name = merchant.branding.display_name if merchant else "Relais"
    colors = merchant.branding.colors if merchant else None
    message = texts.get(key) or platform_texts().say(language, f"unsubscribe_link_{key}")
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
