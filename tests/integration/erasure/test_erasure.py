"""A customer's erasure, proven on the whole stack (issue 18, point 3).

Six real services in this process (tracker, detector, notifier, chat, actions, insights)
on the real Kafka broker, PostgreSQL and SMTP catcher. A customer lives a whole story:
order -> shipped -> damaged -> email with a chat link -> asks for a callback, typing a
phone number and a note -> the merchant's helpdesk gets the signed callback ticket ->
confirmation -> delivered -> survey with a comment. Another customer of the same merchant
has an order too. Then the merchant erases the first one through the API.

The proof: once every service applied the tombstones, no text, varchar, json, jsonb,
array or bytea column of any table of any of the six schemas holds the customer's email,
names, phone numbers, address line or anything they typed; the latest record of each of
their keys on relais.shipment-state.v1 (and on the tracker's orders topic) is a
tombstone; the other customer is untouched. A third customer is erased with
`relais erase`, the operator's command, the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from relais_cli.demo.story import Merchant, order_body
from relais_contracts.topics import orders, shipment_state
from relais_contracts.topics.action_results import ActionCompleted
from relais_contracts.topics.anomalies import AnomalyDetected
from relais_contracts.topics.conversations import CallbackRequested, SurveyAnswered
from tests.conftest import REPO_ROOT
from tests.integration.conftest import eventually, read_to_end
from tests.integration.erasure.stack import ErasureStack, Found

pytestmark = pytest.mark.integration

MAISON_LUMIERE = Merchant(
    merchant_id="maison-lumiere", locale="fr-FR", time_zone="Europe/Paris", currency="EUR"
)
LINK = re.compile(r"https?://[^\s\"'<>]+/(?P<kind>[cts])/[A-Za-z0-9._~-]+")


@dataclass(frozen=True)
class Customer:
    """A customer of this run, with what identifies them (all ASCII: found as typed in
    JSON and bytes alike)."""

    key: str
    first_name: str
    last_name: str
    phone: str
    line1: str
    run: str

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}.{self.run}@example.com".lower()

    def identity(self) -> list[str]:
        return [self.email, self.first_name, self.last_name, self.phone, self.line1]


TYPED_PHONE = ("06 55 44 33 22", "+33655443322")
TYPED_NOTE = "Sonnez trois fois chez Brimborion"
TYPED_COMMENT = "Livreur formidable Tintinnabule"


def scan_payload(
    stack: ErasureStack, *, tracking_number: str, substatus: str, hours_ago: float, **extra: Any
) -> dict[str, Any]:
    event = {
        "occurred_at": (stack.clock.now() - timedelta(hours=hours_ago)).isoformat(),
        "substatus": substatus,
        "description": substatus.replace("_", " ").capitalize(),
        "location": {"city": "Lyon", "postal_code": "69003", "country": "FR"},
        **extra,
    }
    return {"tracking_number": tracking_number, "carrier": "colissimo", "events": [event]}


async def place(stack: ErasureStack, customer: Customer) -> dict[str, Any]:
    """An order of this customer (their email written in another case than it is erased)."""
    order_id = f"{stack.run}-{customer.key}"
    now = stack.clock.now()
    body = order_body(
        merchant=MAISON_LUMIERE,
        order_id=order_id,
        tracking_number=f"ER{stack.run.upper()}{customer.key.upper()}",
        carrier_name="colissimo",
        shipped=now - timedelta(hours=3),
        promised_by=now + timedelta(days=3),
        city=("Lyon", "69003", "FR"),
        first_name=customer.first_name,
        pickup=False,
        value="59.90",
    )
    body["customer"].update(
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email.upper(),
        phone=customer.phone,
    )
    address = body["delivery"]["address"]
    address.update(name=f"{customer.first_name} {customer.last_name}", line1=customer.line1)
    await stack.place_order(merchant=MAISON_LUMIERE.merchant_id, body=body)
    return body


def link_in(text: str, *, kind: str) -> str:
    found = [m.group(0) for m in LINK.finditer(text) if m.group("kind") == kind]
    assert found, f"no /{kind}/ link"
    return found[0]


async def answer(client: httpx.AsyncClient, url: str, fields: dict[str, str]) -> None:
    """Answer the page's current prompt (its node and step, as a browser posts them)."""
    page = await client.get(url)
    assert page.status_code == 200, page.text[:500]
    node = re.search(r'name="node" value="([^"]+)"', page.text)
    step = re.search(r'name="step" value="([^"]+)"', page.text)
    assert node, page.text[-2000:]
    assert step, page.text[-2000:]
    posted = await client.post(url, data={"node": node[1], "step": step[1], **fields})
    assert posted.status_code == 303, posted.text[-2000:]


def callback_day(stack: ErasureStack) -> str:
    day = stack.clock.now().date() + timedelta(days=2)
    return (day + timedelta(days=1) if day.isoweekday() == 7 else day).isoformat()


async def live_the_story(stack: ErasureStack, customer: Customer) -> dict[str, Any]:
    """Order -> damaged -> callback with a typed phone and note -> ticket -> delivered ->
    survey with a comment."""
    body = await place(stack, customer)
    shipment_id = body["parcels"][0]["shipment_id"]
    tracking = body["parcels"][0]["tracking_number"]
    for substatus, hours_ago in (("accepted_by_carrier", 2.5), ("departed_facility", 2.0)):
        await stack.carrier_scan(
            scan_payload(stack, tracking_number=tracking, substatus=substatus, hours_ago=hours_ago)
        )
    await stack.inbox.next(to=body["customer"]["email"])
    await stack.carrier_scan(
        scan_payload(
            stack,
            tracking_number=tracking,
            substatus="damaged",
            hours_ago=0.5,
            incident={"reason": "carrier_damaged_parcel"},
        )
    )
    await stack.tap.wait_for(AnomalyDetected, shipment_id=shipment_id)
    chat_link = link_in((await stack.inbox.next(to=body["customer"]["email"])).text(), kind="c")
    async with httpx.AsyncClient(timeout=10) as client:
        await answer(client, chat_link, {"choice": "callback"})
        await answer(
            client,
            chat_link,
            {
                "phone": TYPED_PHONE[0],
                "day": callback_day(stack),
                "period": "afternoon",
                "note": TYPED_NOTE,
            },
        )
        [callback] = await stack.tap.wait_for(CallbackRequested, shipment_id=shipment_id)
        assert callback.phone == TYPED_PHONE[1]
        await stack.tap.wait_for(ActionCompleted, shipment_id=shipment_id)
        await stack.inbox.next(to=body["customer"]["email"])  # the callback is booked
        await stack.carrier_scan(
            scan_payload(
                stack, tracking_number=tracking, substatus="delivered_to_recipient", hours_ago=0
            )
        )
        survey_link = link_in(
            (await stack.inbox.next(to=body["customer"]["email"])).text(), kind="s"
        )
        await answer(client, survey_link, {"csat": "5", "comment": TYPED_COMMENT})
    await stack.tap.wait_for(SurveyAnswered, shipment_id=shipment_id)
    return body


def services_of(found: Iterable[Found], stack: ErasureStack) -> set[str]:
    service_of = {schema: service for service, schema in stack.schemas.items()}
    return {service_of[one.schema] for one in found}


async def latest_records(topic: str, stack: ErasureStack, keys: set[bytes]) -> dict[bytes, Any]:
    """The last value of each key, reading the topic from its beginning to its end."""
    latest: dict[bytes, Any] = {}
    for record in await read_to_end(stack.tap.bootstrap, topic, timeout_s=60):
        if record.key in keys:
            latest[record.key] = record.value
    return latest


async def erase_through_api(stack: ErasureStack, email: str) -> httpx.Response:
    key = stack.merchants[MAISON_LUMIERE.merchant_id].api_key
    async with httpx.AsyncClient(base_url=stack.urls["tracker"], timeout=30) as client:
        return await client.post(
            "/v1/erasures",
            json={"customer_email": email},
            headers={"Authorization": f"Bearer {key}"},
        )


async def test_an_erased_customer_is_gone_from_every_schema_and_the_compacted_topic(
    stack: ErasureStack,
) -> None:
    erased = Customer(
        "erased", "Zorglubine", "Quetzalcoatl", "+33611223344", "17 rue des Xylophones", stack.run
    )
    other = Customer(
        "other", "Bartholomew", "Quokkason", "+33699887766", "8 impasse Wombat", stack.run
    )
    typed = [TYPED_PHONE[1], TYPED_NOTE, TYPED_COMMENT]
    body = await live_the_story(stack, erased)
    other_body = await place(stack, other)
    other_shipment = other_body["parcels"][0]["shipment_id"]

    # Before: the scan finds the customer in every service that holds personal data
    # (it can fail), and the other customer where the shipment state went.
    before = await eventually(
        lambda: _found_in(stack, [*erased.identity(), *typed], at_least=5), timeout_s=30
    )
    assert services_of(before, stack) >= {"tracker", "notifier", "chat", "actions", "insights"}
    await eventually(lambda: _found_in(stack, [other.email], at_least=3), timeout_s=30)

    # Erased through the merchant API, written in another case, with spaces.
    response = await erase_through_api(stack, f"  {erased.email.upper()} ")
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert (accepted["orders"], accepted["shipments"]) == (1, 1)
    assert erased.email not in response.text

    remaining = await nothing_left(stack, [*erased.identity(), *typed], timeout_s=60)
    assert remaining == [], "\n".join(str(found) for found in remaining)

    merchant_id = stack.merchants[MAISON_LUMIERE.merchant_id].merchant_id
    shipment_key = f"{merchant_id}/{body['parcels'][0]['shipment_id']}".encode()
    other_key = f"{merchant_id}/{other_shipment}".encode()
    latest = await latest_records(shipment_state.TOPIC.name, stack, {shipment_key, other_key})
    assert shipment_key in latest
    assert latest[shipment_key] is None
    assert latest[other_key] is not None
    assert other.email.encode() in latest[other_key].lower()
    assert stack.tracker_topics is not None
    order_key = f"{merchant_id}/{body['order_id']}".encode()
    latest_orders = await latest_records(
        stack.tracker_topics[orders.TOPIC.name], stack, {order_key}
    )
    assert latest_orders == {order_key: None}

    # The other customer of the same merchant is untouched.
    kept = await stack.scan([other.email, other.line1])
    assert services_of(kept, stack) >= {"tracker", "notifier", "chat"}

    # The audit record has counts and times, never the address; erasing again is harmless.
    key = stack.merchants[MAISON_LUMIERE.merchant_id].api_key
    async with httpx.AsyncClient(base_url=stack.urls["tracker"], timeout=30) as client:
        record = await client.get(
            f"/v1/erasures/{accepted['erasure_id']}", headers={"Authorization": f"Bearer {key}"}
        )
    assert record.status_code == 200
    assert record.json()["shipments"] == 1
    assert record.json()["source"] == "api"
    again = await erase_through_api(stack, erased.email)
    assert again.status_code == 202
    assert (again.json()["orders"], again.json()["shipments"]) == (0, 0)
    assert await stack.scan([erased.email]) == []


async def test_a_bad_erasure_request_names_its_field_and_erases_nothing(
    stack: ErasureStack,
) -> None:
    customer = Customer(
        "intact", "Philomena", "Orbitrap", "+33622334455", "3 quai Yttrium", stack.run
    )
    await place(stack, customer)
    await eventually(lambda: _found_in(stack, [customer.email], at_least=2), timeout_s=30)
    for payload, field in (
        ({"customer_email": "not an address"}, "customer_email"),
        ({"email": customer.email}, "email"),
    ):
        response = await erase_through_api_raw(stack, payload)
        assert response.status_code == 422, response.text
        assert field in {
            str(part) for problem in response.json()["detail"] for part in problem["loc"]
        }
    async with httpx.AsyncClient(base_url=stack.urls["tracker"], timeout=10) as client:
        unauthorised = await client.post("/v1/erasures", json={"customer_email": customer.email})
    assert unauthorised.status_code == 401
    assert await _found_in(stack, [customer.email], at_least=2)


async def test_relais_erase_erases_a_customer_the_same_way(stack: ErasureStack) -> None:
    customer = Customer("cli", "Anatole", "Vermicelle", "+33633445566", "5 place Zephyr", stack.run)
    body = await place(stack, customer)
    await eventually(lambda: _found_in(stack, [customer.email], at_least=3), timeout_s=30)
    assert stack.tracker_topics is not None
    assert stack.merchants_dir is not None
    merchant_id = stack.merchants[MAISON_LUMIERE.merchant_id].merchant_id
    env = {
        **os.environ,
        "RELAIS_DATABASE_URL": stack.database_url,
        "RELAIS_KAFKA_BOOTSTRAP": stack.tap.bootstrap,
        "RELAIS_MERCHANTS_DIR": str(stack.merchants_dir),
        "RELAIS_TOPIC_OVERRIDES": json.dumps(stack.tracker_topics),
    }
    command = [sys.executable, "-m", "relais_cli.main", "erase", "--merchant", merchant_id]
    process = await asyncio.create_subprocess_exec(
        *command,
        "--customer",
        customer.email.title(),
        "--schema",
        stack.schemas["tracker"],
        "--json",
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = (part.decode() for part in await asyncio.wait_for(process.communicate(), 120))
    assert process.returncode == 0, err
    summary = json.loads(out)
    assert (summary["orders"], summary["shipments"]) == (1, 1)
    assert customer.email not in out + err
    remaining = await nothing_left(stack, customer.identity(), timeout_s=60)
    assert remaining == [], "\n".join(str(found) for found in remaining)
    key = f"{merchant_id}/{body['parcels'][0]['shipment_id']}".encode()
    assert await latest_records(shipment_state.TOPIC.name, stack, {key}) == {key: None}


async def erase_through_api_raw(stack: ErasureStack, payload: dict[str, Any]) -> httpx.Response:
    key = stack.merchants[MAISON_LUMIERE.merchant_id].api_key
    async with httpx.AsyncClient(base_url=stack.urls["tracker"], timeout=30) as client:
        return await client.post(
            "/v1/erasures", json=payload, headers={"Authorization": f"Bearer {key}"}
        )


async def _found_in(stack: ErasureStack, needles: list[str], *, at_least: int) -> list[Found]:
    """What the scan finds once it finds at least `at_least` columns (else empty)."""
    found = await stack.scan(needles)
    return found if len(found) >= at_least else []


async def nothing_left(stack: ErasureStack, needles: list[str], *, timeout_s: float) -> list[Found]:
    """Scan until nothing is found (every service applied the tombstones) or the timeout
    passes; what is still found then."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await stack.scan(needles)
        if not found or asyncio.get_running_loop().time() >= deadline:
            return found
        await asyncio.sleep(0.5)
