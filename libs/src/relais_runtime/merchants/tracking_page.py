"""The tracking page's merchant content and where the merchant may embed its pages.

Rules:
- `frame_ancestors` lists the origins (`https://shop.example`, an optional port, no
  path) whose pages may show the lookup and tracking pages in a frame; empty means
  nobody may (the pages say `frame-ancestors 'none'`); `http://` is accepted only for
  localhost;
- a content block is a banner (text, link, optional image) or a product list (name,
  image, link, price text as the merchant writes it), shown at the stages it names
  (every stage when none is named), in the order written;
- texts are given per language (`en`, `fr`...): the page shows the customer's
  language, else the merchant's first locale's, else the first one written;
- links and images are https URLs: the page never loads content over plain http.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, Field, HttpUrl, field_validator, model_validator

from relais_runtime.merchants.base import Section

_ORIGIN = re.compile(r"^(https://[a-z0-9.-]+|http://(localhost|127\.0\.0\.1))(:[0-9]{1,5})?$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


class Stage(StrEnum):
    """Where an order stands, as the tracking page's progress stepper shows it."""

    ORDERED = "ordered"
    PREPARED = "prepared"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"


def _origin(value: str) -> str:
    if not _ORIGIN.match(value):
        raise ValueError(
            f"{value!r} is not an origin like https://shop.example (https, host, optional "
            "port, no path; http only for localhost)"
        )
    return value


def _https(value: HttpUrl) -> HttpUrl:
    if value.scheme != "https":
        raise ValueError(f"{value} is not https: the page never loads plain http content")
    return value


Origin = Annotated[str, AfterValidator(_origin)]
HttpsUrl = Annotated[HttpUrl, AfterValidator(_https)]


def _texts(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise ValueError("give the text in at least one language")
    for language, text in value.items():
        if not _LANGUAGE.match(language):
            raise ValueError(f"{language!r} is not a language code like en or fr")
        if not text.strip() or any(ord(c) < 32 for c in text):
            raise ValueError(f"the {language} text is empty or has control characters")
    return value


LocalText = Annotated[dict[str, Annotated[str, Field(max_length=300)]], AfterValidator(_texts)]
"""A short text per language."""


class Banner(Section):
    text: LocalText
    link: HttpsUrl | None = None
    link_text: LocalText | None = None
    image: HttpsUrl | None = None
    image_alt: LocalText | None = None

    @model_validator(mode="after")
    def _link_has_words(self) -> Self:
        if (self.link is None) != (self.link_text is None):
            raise ValueError("link and link_text go together")
        return self


class Product(Section):
    name: LocalText
    url: HttpsUrl
    image: HttpsUrl | None = None
    price: str | None = Field(default=None, max_length=40, description="As written: 29,90 €.")


class ContentBlock(Section):
    stages: tuple[Stage, ...] = ()
    """Shown at these stages; none named: at every stage."""
    banner: Banner | None = None
    title: LocalText | None = None
    """The product list's heading."""
    products: tuple[Product, ...] = Field(default=(), max_length=12)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.banner is None) == (not self.products):
            raise ValueError("a block is either a banner or a list of products")
        if self.products and self.title is None:
            raise ValueError("a list of products needs a title")
        return self

    def shown_at(self, stage: Stage) -> bool:
        return not self.stages or stage in self.stages


class TrackingPage(Section):
    frame_ancestors: tuple[Origin, ...] = Field(default=(), max_length=20)
    blocks: tuple[ContentBlock, ...] = Field(default=(), max_length=10)

    @field_validator("frame_ancestors")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("an origin is listed twice")
        return value


def local(text: dict[str, str], *languages: str) -> str:
    """The text in the first of `languages` it has, else the first one written."""
    for language in languages:
        if language in text:
            return text[language]
    return next(iter(text.values()))
