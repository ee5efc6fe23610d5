"""The merchant `notification` section: strict, and its errors name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from relais_runtime.merchants import MerchantConfigError, parse_merchant


def merchant(notification: dict[str, Any]) -> dict[str, Any]:
    return {
        "merchant_id": "shop",
        "branding": {"display_name": "Shop"},
        "notification": notification,
    }


EMAIL = {"sender_address": "shop@example.com"}


def test_a_minimal_section_loads_with_email_by_default() -> None:
    config = parse_merchant(Path("shop.yaml"), merchant({"email": EMAIL}))
    assert config.notification is not None
    assert [channel.value for channel in config.notification.channels] == ["email"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"email": EMAIL, "anomalies": {"late": {"template": "x"}}},
            "notification.anomalies: .*unknown anomaly type",
        ),
        (
            {"email": EMAIL, "milestones": {"picked": {"template": "x"}}},
            "notification.milestones: .*unknown milestone",
        ),
        ({"email": EMAIL, "channels": ["sms"]}, "channel 'sms' is used but has no sms section"),
        (
            {"email": EMAIL, "quiet_hours": {"start": "21:00", "end": "21:00"}},
            "quiet hours start and end must differ",
        ),
        (
            {"email": EMAIL, "sms": {"sender_id": "A sender id too long"}},
            "notification.sms.sender_id",
        ),
        (
            {"email": EMAIL, "frequency_cap": {"max_messages": 0, "window_hours": 24}},
            "notification.frequency_cap.max_messages",
        ),
        ({"email": EMAIL, "urgent": ["late"]}, "notification.urgent"),
        ({"email": EMAIL, "surprise": True}, "notification.surprise"),
    ],
)
def test_bad_values_are_rejected_naming_file_and_field(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(MerchantConfigError, match=rf"shop\.yaml: .*{message}"):
        parse_merchant(Path("shop.yaml"), merchant(section))
