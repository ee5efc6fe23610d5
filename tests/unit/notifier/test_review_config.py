"""Review mode in the merchant `notification` section: per anomaly type, with a limit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from relais_runtime.merchants import MerchantConfigError, load_merchants, parse_merchant
from relais_runtime.merchants.notification import Delivery, parse_duration

EMAIL = {"sender_address": "shop@example.com"}


def merchant(**notification: Any) -> dict[str, Any]:
    return {
        "merchant_id": "shop",
        "branding": {"display_name": "Shop"},
        "notification": {"email": EMAIL, **notification},
    }


def test_anomalies_are_automatic_by_default_with_a_two_hour_limit() -> None:
    config = parse_merchant(Path("shop.yaml"), merchant(anomalies={"lost": {"template": "lost"}}))
    assert config.notification is not None
    assert config.notification.anomalies["lost"].delivery is Delivery.AUTOMATIC
    assert not config.notification.reviewed("lost")
    assert config.notification.review_alert_after == timedelta(hours=2)


def test_a_review_type_and_its_limit_load() -> None:
    section = merchant(
        anomalies={
            "lost": {"template": "lost", "delivery": "review"},
            "stalled": {"template": "stalled"},
        },
        review_alert_after="1h30m",
    )
    notification = parse_merchant(Path("shop.yaml"), section).notification
    assert notification is not None
    assert notification.reviewed("lost")
    assert not notification.reviewed("stalled")
    assert not notification.reviewed("damaged")
    assert notification.review_alert_after == timedelta(hours=1, minutes=30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("45m", timedelta(minutes=45)),
        ("1d", timedelta(days=1)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (90, timedelta(seconds=90)),
    ],
)
def test_durations_read_as_written(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            merchant(anomalies={"lost": {"template": "lost", "delivery": "later"}}),
            r"notification\.anomalies\.lost\.delivery",
        ),
        (merchant(review_alert_after="2 hours"), r"notification\.review_alert_after: .*duration"),
        (merchant(review_alert_after="h"), r"notification\.review_alert_after"),
        (merchant(review_alert_after="0m"), r"notification\.review_alert_after: .*positive"),
        (merchant(review_alert_after="31d"), r"notification\.review_alert_after: .*30 days"),
        (
            merchant(milestones={"shipped": {"template": "shipped", "delivery": "review"}}),
            r"milestones\.shipped: delivery review is for anomaly types only",
        ),
    ],
)
def test_bad_review_settings_stop_loading_naming_file_and_field(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(MerchantConfigError, match=rf"shop\.yaml: .*{message}"):
        parse_merchant(Path("shop.yaml"), section)


def test_the_demo_merchant_reviews_lost_and_damaged_parcels() -> None:
    merchants = load_merchants(Path(__file__).parents[3] / "deploy" / "merchants")
    notification = merchants["velocity-sports"].notification
    assert notification is not None
    reviewed = sorted(name for name in notification.anomalies if notification.reviewed(name))
    assert reviewed == ["damaged", "lost"]


def test_the_review_limit_is_written_back_in_the_notation_it_is_read_in() -> None:
    from datetime import timedelta

    from relais_runtime.merchants.notification import format_duration, parse_duration

    for duration in (timedelta(hours=2), timedelta(days=1, minutes=30), timedelta(seconds=90)):
        assert parse_duration(format_duration(duration)) == duration
    assert format_duration(timedelta(days=1, hours=2, minutes=3, seconds=4)) == "1d2h3m4s"
