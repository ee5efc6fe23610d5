"""Held carrier events: why each is held, how an operator sees it (`relais tracker
unmatched`, masked numbers), how they expire (metric, one log line per batch without
personal data), and `relais carriers unknown-codes`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs
from typer.testing import CliRunner

from relais_cli import tracker_cmd
from relais_cli.main import app
from relais_tracker import repository
from relais_tracker.domain.held_events import HeldReason, age_text, masked, why_held
from relais_tracker.repository import HeldEventRow, UnknownCodeRow
from relais_tracker.service.held_events import HeldEventExpiry

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("carrier", "merchant", "parcels", "reason", "named"),
    [
        ("colissimo", "shop-a", (), HeldReason.NO_ORDER, ()),
        (
            "colissimo",
            "shop-a",
            (("shop-a", "ups"), ("shop-b", "dhl")),
            HeldReason.CARRIER_INCOMPATIBLE,
            ("dhl", "ups"),
        ),
        ("colissimo", "shop-a", (("shop-b", "colissimo"),), HeldReason.OTHER_MERCHANT, ()),
        ("colissimo", "unknown", (("shop-b", "colissimo"),), HeldReason.ORDER_ARRIVED, ()),
        ("generic", "shop-a", (("shop-a", "ups"),), HeldReason.ORDER_ARRIVED, ()),
    ],
)
def test_why_an_event_is_held(
    carrier: str,
    merchant: str,
    parcels: tuple[tuple[str, str], ...],
    reason: HeldReason,
    named: tuple[str, ...],
) -> None:
    assert why_held(carrier=carrier, merchant_id=merchant, parcels=parcels) == (reason, named)


def test_numbers_are_masked_but_for_the_last_four_and_ages_read_shortly() -> None:
    assert masked("CB123456785FR") == "*********85FR"
    assert masked("ABC") == "***"
    assert age_text(timedelta(days=3, hours=4, minutes=5)) == "3d 4h"
    assert age_text(timedelta(hours=5, minutes=12)) == "5h 12m"
    assert age_text(timedelta(minutes=7, seconds=59)) == "7m"
    assert age_text(timedelta(minutes=-3)) == "0m"


class FakeConnection:
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


class FakePool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield FakeConnection()


def _expired() -> float:
    return REGISTRY.get_sample_value("relais_tracking_events_total", {"outcome": "expired"}) or 0.0


async def test_expiry_deletes_past_the_ttl_counts_and_logs_without_personal_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    async def delete(connection: object, **kwargs: Any) -> list[tuple[str, datetime]]:
        calls.append(kwargs)
        return [
            ("colissimo", NOW - timedelta(days=9)),
            ("colissimo", NOW - timedelta(days=8)),
            ("ups", NOW - timedelta(days=7, minutes=1)),
        ]

    monkeypatch.setattr(repository, "delete_expired_pending_events", delete)
    expiry = HeldEventExpiry(
        pool=FakePool(),  # type: ignore[arg-type]
        ttl=timedelta(days=7),
        batch=3,
        now=lambda: NOW,
    )
    before = _expired()

    with capture_logs() as logs:
        deleted = await expiry.expire_due()

    assert deleted == 3
    assert calls == [{"received_before": NOW - timedelta(days=7), "limit": 3}]
    assert _expired() - before == 3
    [line] = [log for log in logs if log["event"] == "held carrier events expired"]
    assert line["count"] == 3
    assert line["by_carrier"] == {"colissimo": 2, "ups": 1}
    assert line["oldest_received_at"] == (NOW - timedelta(days=9)).isoformat()
    assert set(line) <= {
        "event",
        "log_level",
        "count",
        "by_carrier",
        "oldest_received_at",
        "held_for_s",
    }


async def test_an_empty_pass_neither_counts_nor_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    async def delete(connection: object, **kwargs: Any) -> list[tuple[str, datetime]]:
        return []

    monkeypatch.setattr(repository, "delete_expired_pending_events", delete)
    expiry = HeldEventExpiry(
        pool=FakePool(),  # type: ignore[arg-type]
        ttl=timedelta(days=7),
        batch=10,
        now=lambda: NOW,
    )
    before = _expired()

    with capture_logs() as logs:
        assert await expiry.expire_due() == 0

    assert _expired() == before
    assert not logs


def _row(**fields: Any) -> HeldEventRow:
    values: dict[str, Any] = {
        "carrier": "colissimo",
        "tracking_key": "CB123456785FR",
        "merchant_id": "unknown",
        "received_at": NOW - timedelta(days=2, hours=3),
        "occurred_at": NOW - timedelta(days=2, hours=4),
        "parcels": (),
    }
    return HeldEventRow(**{**values, **fields})


def test_unmatched_shows_masked_numbers_age_expiry_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        _row(),
        _row(carrier="ups", tracking_key="1Z999AA10123456784", parcels=(("shop-a", "dhl"),)),
    ]
    monkeypatch.setattr(tracker_cmd, "read_tracker", lambda settings, read: rows)
    monkeypatch.setenv(
        "RELAIS_CLOCK", "scaled:2026-01-01T00:00:00+00:00|2026-03-10T12:00:00+00:00|0"
    )
    monkeypatch.setenv("RELAIS_HELD_EVENT_TTL_S", str(7 * 24 * 3600))

    result = CliRunner().invoke(app, ["tracker", "unmatched", "--json"])

    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first == {
        "carrier": "colissimo",
        "tracking_number": "*********85FR",
        "received_at": "2026-03-08T09:00:00+00:00",
        "age": "2d 3h",
        "expires_in": "4d 21h",
        "why": "no order with that number",
        "order_carriers": [],
    }
    assert second["why"] == "carrier incompatible"
    assert second["order_carriers"] == ["dhl"]
    assert "1Z999AA1" not in result.output

    table = CliRunner().invoke(app, ["tracker", "unmatched"], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "order says dhl" in table.output


def test_unknown_codes_lists_codes_by_reading_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, Any]] = []

    async def list_codes(connection: object, **kwargs: Any) -> list[UnknownCodeRow]:
        asked.append(kwargs)
        return [
            UnknownCodeRow("aftership", "InTransit_010", 42, "Sorted", NOW - timedelta(days=3), NOW)
        ]

    def read(settings: object, reader: Any) -> Any:
        import asyncio

        return asyncio.run(reader(object()))

    monkeypatch.setattr(repository, "list_unknown_codes", list_codes)
    monkeypatch.setattr(tracker_cmd, "read_tracker", read)
    from relais_cli import carriers_cmd

    monkeypatch.setattr(carriers_cmd, "read_tracker", read)

    result = CliRunner().invoke(
        app, ["carriers", "unknown-codes", "--carrier", "AfterShip", "--json", "--limit", "5"]
    )

    assert result.exit_code == 0, result.output
    assert asked == [{"carrier": "aftership", "limit": 5}]
    assert json.loads(result.output) == {
        "carrier": "aftership",
        "carrier_code": "InTransit_010",
        "seen": 42,
        "first_seen_at": "2026-03-07T12:00:00+00:00",
        "last_seen_at": "2026-03-10T12:00:00+00:00",
        "example": "Sorted",
    }
