"""Merchant configuration: declarative YAML, one file per merchant, validated at load.

Rules:
- one file per merchant in the configuration directory (`<merchant_id>.yaml`, the
  file name must equal its `merchant_id`), versioned in git and mounted as a
  ConfigMap on Kubernetes;
- everything is validated at load: an unknown key, a bad value or an unresolvable
  secret stops start-up with `MerchantConfigError` naming the file, the field and
  the reason;
- secrets are references (environment variable or mounted file), never values;
- each service reads only its own section; sections live one per module here
  (branding, and the service sections as the services grow).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from relais_runtime.merchants.actions import Actions
from relais_runtime.merchants.base import Section
from relais_runtime.merchants.branding import Branding
from relais_runtime.merchants.chat import ChatSection
from relais_runtime.merchants.detection import DetectionPolicy
from relais_runtime.merchants.insights import InsightsSection
from relais_runtime.merchants.notification import NotificationSettings
from relais_runtime.merchants.tracking import Tracking
from relais_runtime.settings import ConfigurationError

MERCHANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
RESERVED_MERCHANT_IDS = frozenset({"unknown"})


class MerchantConfigError(Exception):
    """A merchant configuration file is invalid; the message names file, field and reason."""


class MerchantConfig(Section):
    merchant_id: str = Field(pattern=MERCHANT_ID.pattern)
    branding: Branding
    locales: tuple[str, ...] = Field(default=("fr",), min_length=1)
    time_zone: str = "Europe/Paris"
    detection: DetectionPolicy = DetectionPolicy()
    chat: ChatSection = ChatSection()
    actions: Actions | None = None
    notification: NotificationSettings | None = None
    tracking: Tracking = Tracking()
    insights: InsightsSection = InsightsSection()

    @field_validator("merchant_id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_MERCHANT_IDS:
            raise ValueError(f"{value!r} is reserved")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("locales")
    @classmethod
    def _locales_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for locale in value:
            if not re.match(r"^[a-z]{2,3}(-[A-Z]{2})?$", locale):
                raise ValueError(f"{locale!r} is not a BCP 47 language tag like fr or en-GB")
        return value


@dataclass(frozen=True, eq=False)
class MerchantDirectory(Mapping[str, MerchantConfig]):
    """Every merchant's configuration, by merchant id."""

    merchants: Mapping[str, MerchantConfig]

    def __getitem__(self, merchant_id: str) -> MerchantConfig:
        return self.merchants[merchant_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.merchants)

    def __len__(self) -> int:
        return len(self.merchants)


def parse_merchant(path: Path, data: Any) -> MerchantConfig:
    try:
        config = MerchantConfig.model_validate(data)
    except ValidationError as error:
        raise MerchantConfigError(_describe(path, error)) from None
    if path.stem != config.merchant_id:
        raise MerchantConfigError(
            f"{path}: merchant_id: {config.merchant_id!r} does not match the file name "
            f"{path.name!r}"
        )
    return config


def load_merchant_file(path: Path) -> MerchantConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MerchantConfigError(f"{path}: cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise MerchantConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise MerchantConfigError(f"{path}: (root): expected a mapping of settings")
    return parse_merchant(path, data)


def load_merchants(directory: Path) -> MerchantDirectory:
    """Load and validate every `*.yaml` in the directory (all errors, not just the first)."""
    if not directory.is_dir():
        raise MerchantConfigError(f"{directory}: not a directory of merchant configuration")
    merchants: dict[str, MerchantConfig] = {}
    problems: list[str] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            config = load_merchant_file(path)
        except MerchantConfigError as error:
            problems.append(str(error))
            continue
        merchants[config.merchant_id] = config
    if problems:
        raise MerchantConfigError("\n".join(problems))
    return MerchantDirectory(merchants=merchants)


def merchants_of(merchants_dir: Path | None) -> MerchantDirectory:
    """Every merchant a service runs for: none when no directory is configured.

    The one way services load merchants. A bad file stops start-up with
    `ConfigurationError` naming the file, the field and the reason.
    """
    if merchants_dir is None:
        return MerchantDirectory(merchants={})
    try:
        return load_merchants(merchants_dir)
    except MerchantConfigError as error:
        raise ConfigurationError(str(error)) from None


def _describe(path: Path, error: ValidationError) -> str:
    return "\n".join(
        f"{path}: {'.'.join(str(part) for part in problem['loc']) or '(root)'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)
    )
