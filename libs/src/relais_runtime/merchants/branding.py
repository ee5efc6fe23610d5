"""Branding: how the merchant looks and speaks in emails, SMS, chat and tracking pages."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, HttpUrl

from relais_runtime.merchants.base import HexColor, Section


class Tone(StrEnum):
    FORMAL = "formal"
    """French "vous"; neutral English."""
    INFORMAL = "informal"
    """French "tu"; friendly English."""


class Colors(Section):
    primary: HexColor = "#1f4e79"
    accent: HexColor = "#f2a900"
    background: HexColor = "#ffffff"
    text: HexColor = "#1a1a1a"


class Branding(Section):
    display_name: str = Field(min_length=1, max_length=80)
    logo_url: HttpUrl | None = None
    colors: Colors = Colors()
    bot_name: str = Field(default="Relais", min_length=1, max_length=40)
    tone: Tone = Tone.FORMAL
    support_email: str | None = Field(default=None, max_length=254)
    support_url: HttpUrl | None = None
    support_phone: str | None = Field(default=None, max_length=32)
