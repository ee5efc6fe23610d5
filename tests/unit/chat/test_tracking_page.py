"""The tracking page's pure parts: stepper, promise against estimate, calendar file,
lookup form, security headers, merchant content configuration and the pages' words."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from relais_chat.domain.calendar import CalendarEvent, calendar_day, escape_text, fold, ics
from relais_chat.domain.lookup import LookupQuery, order_key, parse_lookup, window_of
from relais_chat.domain.progress import StepState, current_stage, outlook, stepper
from relais_chat.headers import content_security_policy, security_headers, style_hash
from relais_chat.service.pages import CalendarSubject
from relais_chat.ui import words
from relais_chat.ui.presentation import map_url, theme_css
from relais_chat.ui.tracking import blocks_for, calendar_file, calendar_filename
from relais_contracts.common import DeliveryMode
from relais_contracts.topics import shipment_state
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.tracking import DeliveryEstimate, Incident, IncidentReason, Substatus
from relais_contracts.tracking import TrackingStatus as S
from relais_runtime.merchants import MerchantConfig, MerchantConfigError, load_merchant_file
from relais_runtime.merchants.tracking_page import Stage
from tests.unit.chat.conftest import REPO
from tests.unit.chat.ics_reader import parse_ics

NOW = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def example(name: str) -> ShipmentStateChanged:
    topic = shipment_state.TOPIC
    state: ShipmentStateChanged = topic.decode((topic.examples_dir() / name).read_bytes())
    return state


HOME = example("ShipmentStateChanged-colissimo-out-for-delivery.json")
PICKUP = example("ShipmentStateChanged-mondial-relay-ready-for-pickup.json")


def moved(state: ShipmentStateChanged, **changes: Any) -> ShipmentStateChanged:
    return state.model_copy(update=changes)


@pytest.fixture(scope="module")
def lumiere() -> MerchantConfig:
    return load_merchant_file(REPO / "deploy" / "merchants" / "maison-lumiere.yaml")


# The stepper


@pytest.mark.parametrize(
    ("state", "stage"),
    [
        (
            moved(
                HOME,
                status=S.PENDING,
                substatus=Substatus.AWAITING_SHIPMENT,
                carrier=None,
                tracking_number=None,
                shipped_at=None,
            ),
            Stage.ORDERED,
        ),
        (
            moved(HOME, status=S.PENDING, substatus=Substatus.PENDING_UNSPECIFIED, shipped_at=None),
            Stage.PREPARED,
        ),
        (
            moved(HOME, status=S.INFO_RECEIVED, substatus=Substatus.LABEL_CREATED, shipped_at=None),
            Stage.PREPARED,
        ),
        (moved(HOME, status=S.IN_TRANSIT, substatus=Substatus.DEPARTED_FACILITY), Stage.SHIPPED),
        (moved(HOME, status=S.EXCEPTION, substatus=Substatus.DELAYED), Stage.SHIPPED),
        (HOME, Stage.OUT_FOR_DELIVERY),
        (
            moved(HOME, status=S.FAILED_ATTEMPT, substatus=Substatus.RECIPIENT_ABSENT),
            Stage.OUT_FOR_DELIVERY,
        ),
        (
            moved(HOME, status=S.AVAILABLE_FOR_PICKUP, substatus=Substatus.HELD_AT_DEPOT),
            Stage.READY_FOR_PICKUP,
        ),
        (PICKUP, Stage.READY_FOR_PICKUP),
        (
            moved(
                PICKUP, status=S.OUT_FOR_DELIVERY, substatus=Substatus.OUT_FOR_DELIVERY_UNSPECIFIED
            ),
            Stage.SHIPPED,
        ),
        (moved(HOME, status=S.DELIVERED, substatus=Substatus.SIGNED_FOR), Stage.DELIVERED),
    ],
)
def test_each_state_has_its_current_step(state: ShipmentStateChanged, stage: Stage) -> None:
    assert current_stage(state) is stage
    steps = stepper(state)
    assert len(steps) == 5
    current = [step for step in steps if step.state is StepState.CURRENT]
    assert [step.stage for step in current] == [stage]
    index = steps.index(current[0])
    assert all(step.state is StepState.DONE for step in steps[:index])
    assert all(step.state is StepState.UPCOMING for step in steps[index + 1 :])


def test_a_problem_flags_the_current_step_and_pickup_orders_end_at_the_point() -> None:
    failed = stepper(moved(HOME, status=S.FAILED_ATTEMPT, substatus=Substatus.RECIPIENT_ABSENT))
    assert [step.problem for step in failed] == [False, False, False, True, False]
    assert [step.stage for step in stepper(PICKUP)][3] is Stage.READY_FOR_PICKUP
    assert [step.stage for step in stepper(HOME)][3] is Stage.OUT_FOR_DELIVERY


# Promise and estimate


def test_late_when_the_estimate_passes_the_promise_with_the_carriers_reason() -> None:
    promised = date(2026, 3, 10)
    late = moved(
        HOME,
        status=S.EXCEPTION,
        substatus=Substatus.DELAYED_WEATHER,
        incident=Incident.of(IncidentReason.WEATHER_DELAY),
        promised_delivery_by=promised,
        estimated_delivery=DeliveryEstimate(day=promised + timedelta(days=2)),
    )
    found = outlook(late, today=date(2026, 3, 9))
    assert found.late
    assert found.reason is Substatus.DELAYED_WEATHER
    assert found.estimated == promised + timedelta(days=2)


def test_on_time_late_without_reason_and_arrived_parcels() -> None:
    promised = date(2026, 3, 10)
    on_time = moved(HOME, promised_delivery_by=promised, estimated_delivery=None)
    assert not outlook(on_time, today=date(2026, 3, 10)).late
    overdue = outlook(on_time, today=date(2026, 3, 11))
    assert overdue.late
    assert overdue.reason is None
    waiting = moved(PICKUP, promised_delivery_by=promised)
    assert not outlook(waiting, today=date(2026, 3, 20)).late


# The calendar file


def test_the_calendar_file_is_one_all_day_event_that_parses_back(lumiere: MerchantConfig) -> None:
    state = moved(
        HOME,
        merchant_id=lumiere.merchant_id,
        estimated_delivery=DeliveryEstimate(day=date(2026, 3, 12)),
    )
    url = "https://chat.relais.example/t/" + "a" * 120
    body = calendar_file(CalendarSubject(lumiere, state, NOW), tracking_url=url)
    assert body is not None
    event = parse_ics(body.decode("utf-8"))
    assert event["DTSTART;VALUE=DATE"] == "20260312"
    assert event["DTEND;VALUE=DATE"] == "20260313"
    assert event["DTSTAMP"] == "20260309T100000Z"
    assert event["UID"] == f"{state.shipment_id}.maison-lumiere@relais"
    assert event["SUMMARY"] == "Livraison de la commande #10452 (Maison Lumière)"
    assert event["DESCRIPTION"] == f"Suivre le colis : {url}"
    assert event["URL"] == url
    assert calendar_filename(state.order_number) == "order-10452.ics"


def test_a_parcel_at_a_pickup_point_gives_its_deadline_day_and_place(
    lumiere: MerchantConfig,
) -> None:
    state = moved(PICKUP, pickup_hold_deadline=datetime(2026, 3, 21, 23, 30, tzinfo=UTC))
    assert calendar_day(state) is not None
    body = calendar_file(CalendarSubject(lumiere, state, NOW), tracking_url="https://x.example/t/1")
    assert body is not None
    event = parse_ics(body.decode())
    assert event["DTSTART;VALUE=DATE"] == "20260322", "the customer's day (Paris), not UTC's"
    assert event["LOCATION"] == "Tabac Presse du Marché, 4 place du Marché, 44000 Nantes"
    assert event["SUMMARY"] == "Retirer la commande #10467 à Tabac Presse du Marché"


def test_no_calendar_for_a_delivered_parcel_or_one_without_a_day() -> None:
    delivered = moved(HOME, status=S.DELIVERED, substatus=Substatus.SIGNED_FOR, delivered_at=NOW)
    assert calendar_day(delivered) is None
    undated = moved(HOME, promised_delivery_by=None, estimated_delivery=None)
    assert calendar_day(undated) is None


def test_text_is_escaped_and_long_lines_fold_between_characters() -> None:
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "SUMMARY:" + "é" * 80
    parts = list(fold(line))
    assert all(len(part.encode()) <= 75 for part in parts)
    assert "".join(part.removeprefix(" ") if i else part for i, part in enumerate(parts)) == line
    body = ics(
        CalendarEvent(
            uid="u@relais",
            day=date(2026, 1, 1),
            summary="x; y, z",
            description="é" * 100,
            location=None,
            url=None,
            stamp=NOW,
        )
    ).decode()
    assert parse_ics(body)["SUMMARY"] == "x; y, z"
    assert parse_ics(body)["DESCRIPTION"] == "é" * 100


# The lookup form


def test_the_lookup_form_reads_an_email_or_a_postal_code() -> None:
    email = parse_lookup({"order": " #ml-10467 ", "proof": " Lea.Martin@Example.fr "})
    assert email == LookupQuery("ML-10467", email="lea.martin@example.fr", postal_code=None)
    postal = parse_lookup({"order": "10467", "proof": "sw1a 1aa"})
    assert postal == LookupQuery("10467", email=None, postal_code="SW1A1AA")
    assert order_key("# 104 67") == "10467"


def test_a_refused_lookup_names_its_fields() -> None:
    assert parse_lookup({}) == {"order": "required", "proof": "required"}
    assert parse_lookup({"order": "1" * 65, "proof": "a\u0000b"}) == {
        "order": "lookup_too_long",
        "proof": "control_characters",
    }
    assert parse_lookup({"order": "#", "proof": "75001"}) == {"order": "required"}


def test_attempts_are_counted_in_fixed_windows() -> None:
    window = window_of(datetime(2026, 3, 9, 10, 7, 30, tzinfo=UTC), timedelta(minutes=15))
    assert window.start == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 3, 9, 10, 15, tzinfo=UTC)


# Security headers


def test_the_policy_allows_only_the_pages_own_inline_theme(lumiere: MerchantConfig) -> None:
    css = theme_css(lumiere)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert style_hash(css) == f"'sha256-{digest}'"
    policy = content_security_policy(inline_styles=[css])
    assert f"style-src 'self' 'sha256-{digest}'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert policy.endswith("frame-ancestors 'none'")


def test_embeddable_pages_name_their_ancestors_and_drop_x_frame_options() -> None:
    embeddable = security_headers(frame_ancestors=("https://a.example", "https://b.example"))
    assert (
        "frame-ancestors https://a.example https://b.example"
        in (embeddable["Content-Security-Policy"])
    )
    assert "X-Frame-Options" not in embeddable
    closed = security_headers()
    assert closed["X-Frame-Options"] == "DENY"
    assert closed["X-Content-Type-Options"] == "nosniff"
    assert closed["Referrer-Policy"] == "no-referrer"
    assert closed["Cache-Control"] == "no-store"


# Merchant content and frame ancestors


def test_content_blocks_follow_the_stage_and_the_language(lumiere: MerchantConfig) -> None:
    shipped = blocks_for(lumiere, Stage.SHIPPED, "en")
    assert [block["kind"] for block in shipped] == ["banner"]
    assert shipped[0]["text"] == "Free delivery from €60 until Sunday."
    delivered = blocks_for(lumiere, Stage.DELIVERED, "de")
    assert delivered[0]["title"] == "Pour aller avec votre commande", "merchant's first language"
    assert delivered[0]["products"][0]["name"] == "Bougie parfumée figue 200 g"


def _merchant_file(tmp_path: Path, page: dict[str, Any]) -> Path:
    data = yaml.safe_load((REPO / "deploy" / "merchants" / "velocity-sports.yaml").read_text())
    data.setdefault("tracking", {})["page"] = page
    path = tmp_path / "velocity-sports.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("page", "field", "reason"),
    [
        ({"frame_ancestors": ["https://shop.example/path"]}, "frame_ancestors.0", "not an origin"),
        ({"frame_ancestors": ["http://shop.example"]}, "frame_ancestors.0", "not an origin"),
        ({"frame_ancestors": ["*"]}, "frame_ancestors.0", "not an origin"),
        (
            {"blocks": [{"banner": {"text": {"en": "Hi"}, "image": "http://x.example/a.png"}}]},
            "blocks.0.banner.image",
            "is not https",
        ),
        (
            {"blocks": [{"stages": ["lost"], "banner": {"text": {"en": "Hi"}}}]},
            "blocks.0.stages.0",
            "",
        ),
        ({"blocks": [{"banner": {"text": {}}}]}, "blocks.0.banner.text", "at least one language"),
        ({"blocks": [{"title": {"en": "More"}}]}, "blocks.0", "either a banner or a list"),
    ],
)
def test_bad_page_configuration_stops_start_up_naming_file_and_field(
    tmp_path: Path, page: dict[str, Any], field: str, reason: str
) -> None:
    path = _merchant_file(tmp_path, page)
    with pytest.raises(MerchantConfigError) as error:
        load_merchant_file(path)
    message = str(error.value)
    assert f"{path}: tracking.page.{field}:" in message
    assert reason in message


def test_good_page_configuration_loads(tmp_path: Path) -> None:
    page = {"frame_ancestors": ["https://shop.example", "http://localhost:3000"]}
    merchant = load_merchant_file(_merchant_file(tmp_path, page))
    assert merchant.tracking.page.frame_ancestors == tuple(page["frame_ancestors"])


# The pages' words


def test_every_substatus_and_stage_has_its_words_in_every_language() -> None:
    for language in words.LANGUAGES:
        catalogue = words.platform_texts().texts[language]
        for substatus in Substatus:
            assert catalogue[f"substatus_{substatus.value}"].strip(), (language, substatus)
        for stage in Stage:
            assert catalogue[f"stage_{stage.value}"].strip(), (language, stage)


def test_the_map_link_searches_the_points_address() -> None:
    point = PICKUP.delivery.pickup_point
    assert point is not None
    assert PICKUP.delivery.mode is DeliveryMode.PICKUP_POINT
    assert map_url(point.address) == (
        "https://www.openstreetmap.org/search?query=4+place+du+March%C3%A9%2C+44000+Nantes%2C+FR"
    )
