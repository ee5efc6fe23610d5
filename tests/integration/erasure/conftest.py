"""One whole stack for the erasure tests: the journey's five services plus insights."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relais_cli.infra import smtp
from relais_cli.infra.base import SilentReporter
from relais_cli.infra.settings import InfraSettings
from tests.conftest import Infrastructure
from tests.e2e.journey.merchant import MerchantSystems, running_merchant_systems
from tests.integration.erasure.stack import ErasureStack, running_erasure_stack


@pytest.fixture(scope="module")
async def smtp_catcher(infrastructure: Infrastructure) -> None:
    """The local SMTP catcher (already up unless the broker came from testcontainers)."""
    await smtp.up(InfraSettings(), reporter=SilentReporter())


@pytest.fixture(scope="module")
async def merchant_systems() -> AsyncIterator[MerchantSystems]:
    async with running_merchant_systems(secrets={}) as systems:
        systems.flaky_once = False
        yield systems


@pytest.fixture(scope="module")
async def stack(
    infrastructure: Infrastructure, smtp_catcher: None, merchant_systems: MerchantSystems
) -> AsyncIterator[ErasureStack]:
    with tempfile.TemporaryDirectory(prefix="relais-erasure-") as directory:
        async with running_erasure_stack(
            infrastructure=infrastructure,
            run=f"x{uuid.uuid4().hex[:8]}",
            directory=Path(directory),
            merchant_systems=merchant_systems,
        ) as running:
            yield running
