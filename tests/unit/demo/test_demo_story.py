"""The demo's story generator: deterministic, realistic mix, valid payloads."""

from __future__ import annotations

from datetime import UTC, datetime

from relais_cli.demo.story import ANOMALY_WEIGHTS, Merchant, day_of_traffic
from relais_contracts.topics.orders import OrderPlaced

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MERCHANTS = [
    Merchant(
        merchant_id="maison-lumiere", locale="fr-FR", time_zone="Europe/Paris", currency="EUR"
    ),
    Merchant(
        merchant_id="velocity-sports", locale="en-GB", time_zone="Europe/London", currency="GBP"
    ),
]


def test_same_seed_same_day() -> None:
    first = day_of_traffic(merchants=MERCHANTS, orders=50, start=START, run_id="dabc")
    second = day_of_traffic(merchants=MERCHANTS, orders=50, start=START, run_id="dabc")
    assert first == second


def test_mostly_normal_with_every_anomaly_kind_in_a_large_day() -> None:
    day = day_of_traffic(merchants=MERCHANTS, orders=400, start=START, run_id="dabc")
    assert sum(day.scenarios.values()) == 400
    assert 0.6 < day.scenarios["normal"] / 400 < 0.8
    assert set(ANOMALY_WEIGHTS) <= set(day.scenarios)


def test_orders_validate_against_the_topic_model_and_precede_their_scans() -> None:
    """(What each scan's payload means is tested in test_demo_carriers.py.)"""
    day = day_of_traffic(merchants=MERCHANTS, orders=40, start=START, run_id="dabc")
    placed_at = {}
    for call in day.orders:
        envelope = {
            "event_id": "0f3c2a51-7b6e-4c1d-9a35-2e8f6d1b4c70",
            "occurred_at": call.at.isoformat(),
            "produced_at": call.at.isoformat(),
            "merchant_id": call.merchant_id,
            "correlation_id": call.body["order_id"],
        }
        order = OrderPlaced.model_validate({**envelope, **call.body})
        placed_at[order.parcels[0].tracking_number] = call.at
    assert len(placed_at) == 40
    for scan in day.scans:
        assert scan.at >= placed_at[scan.tracking_number]
    assert day.scans == sorted(day.scans, key=lambda scan: scan.at)


def test_orders_alternate_merchants_and_ship_during_the_first_day() -> None:
    day = day_of_traffic(merchants=MERCHANTS, orders=10, start=START, run_id="dabc")
    assert {call.merchant_id for call in day.orders} == {"maison-lumiere", "velocity-sports"}
    assert all(0 <= (call.at - START).total_seconds() < 10 * 3600 for call in day.orders)
