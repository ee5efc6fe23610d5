"""Shared pieces of merchant configuration sections."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator


class Section(BaseModel):
    """Configuration is strict: an unknown key is a mistake, rejected at load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]


class SecretRef(Section):
    """A secret is never written in configuration: it names where to read it.

    Exactly one of `env` (an environment variable) or `file` (a mounted file, as a
    Kubernetes Secret volume provides) is given; `resolve()` reads it.
    """

    env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def resolve(self, environ: dict[str, str] | None = None) -> str:
        """The secret's value; raises LookupError naming the missing source."""
        if self.env is not None:
            value = (environ if environ is not None else dict(os.environ)).get(self.env)
            if not value:
                raise LookupError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text().strip()
        except OSError as error:
            raise LookupError(f"secret file {self.file} cannot be read: {error.strerror}") from None
