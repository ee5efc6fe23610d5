"""The carriers' pull clients against a local server answering in each API's documented
shapes (UPS Track API, FedEx Track API, DHL Shipment Tracking - Unified, La Poste Suivi
v2, Chronopost TrackingServiceWS over SOAP): authentication, token expiry and refresh,
429 with Retry-After, 5xx retried, 4xx skipped, not-found answers, rate limits; then
the whole tracker polling through them on its schedule."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relais_tracker.adapters import carriers
from relais_tracker.adapters.carrier_poller import PollError, PollRejected, PollRetry
from relais_tracker.adapters.pull import PullClient, PullCredentials, build_pull_clients
from tests.integration.conftest import eventually
from tests.integration.tracker.conftest import StartTracker, free_port, order_body

FIXTURES = Path(__file__).parents[2] / "fixtures" / "carriers"
CLIENT_ID, CLIENT_SECRET, API_KEY = "relais-test-client", "relais-test-secret", "relais-test-key"

# One replayed payload per carrier: served as the API's answer for its tracking number.
PAYLOADS = {
    "ups": "delivered_front_door_us.json",
    "fedex": "delivered_front_door.json",
    "dhl": "parcel_de_neighbour_zoneless.json",
    "colissimo": "delivered_to_neighbour.json",
    "chronopost": "soap_v2_relay_collected.xml",
}
CARRIERS = tuple(PAYLOADS)
JSON_CARRIERS = ("ups", "fedex", "dhl", "colissimo")
OAUTH_CARRIERS = ("ups", "fedex")
KEYLESS_CARRIERS = ("chronopost",)


def expected_records(carrier: str) -> list[dict[str, Any]]:
    path = FIXTURES / carrier / f"{PAYLOADS[carrier].rsplit('.', 1)[0]}.expected.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def number_of(carrier: str) -> str:
    number: str = expected_records(carrier)[0]["tracking_number"]
    return number


# What each API answers besides the payload, in its documented shape.
NOT_FOUND: dict[str, tuple[int, Any]] = {
    "ups": (
        200,
        {
            "trackResponse": {
                "shipment": [
                    {"warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}]}
                ]
            }
        },
    ),
    "fedex": (
        200,
        {
            "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
            "output": {
                "completeTrackResults": [
                    {
                        "trackingNumber": "123456789012",
                        "trackResults": [
                            {
                                "trackingNumberInfo": {"trackingNumber": "123456789012"},
                                "error": {
                                    "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                                    "message": "Tracking number cannot be found. Please "
                                    "correct the tracking number and try again.",
                                },
                            }
                        ],
                    }
                ]
            },
        },
    ),
    "dhl": (
        404,
        {
            "title": "No result found",
            "status": 404,
            "detail": "No shipment with given tracking number found.",
        },
    ),
    "colissimo": (
        404,
        {
            "returnCode": 404,
            "returnMessage": "Votre numéro de suivi n'a pas été trouvé.",
            "lang": "fr_FR",
        },
    ),
}
BAD_REQUEST: dict[str, tuple[Any, str]] = {
    "ups": (
        {"response": {"errors": [{"code": "TV1002", "message": "Invalid inquiry number"}]}},
        "TV1002",
    ),
    "fedex": (
        {
            "errors": [
                {
                    "code": "TRACKING.TRACKINGNUMBER.EMPTY",
                    "message": "Please provide tracking number.",
                }
            ]
        },
        "TRACKING.TRACKINGNUMBER.EMPTY",
    ),
    "dhl": ({"status": 400, "title": "Bad Request", "detail": "Invalid tracking number."}, "400"),
    "colissimo": (
        {
            "returnCode": 400,
            "returnMessage": "Le numéro que vous avez saisi n'est pas valide.",
            "lang": "fr_FR",
        },
        "400",
    ),
}
UNAUTHORIZED: dict[str, Any] = {
    "ups": {
        "response": {
            "errors": [{"code": "250002", "message": "Invalid Authentication Information."}]
        }
    },
    "fedex": {"errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Access token expired."}]},
    "dhl": {"status": 401, "title": "Unauthorized", "detail": "Unauthorized for given resource."},
    "colissimo": {"code": "UNAUTHORIZED", "message": "The api key is invalid"},
}


@dataclass
class Call:
    carrier: str
    number: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    at: float


@dataclass
class CarrierApis:
    """The four APIs on one local server. `plans[number]` lists the answers to give, in
    order (`ok` once the list is spent): `ok`, `notfound`, `400`, `401`, `429`,
    `429-long` (Retry-After of an hour), `503`."""

    base_url: str = ""
    plans: dict[str, list[str]] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    token_lifetime_s: int = 3600
    retry_after: str = "1"

    def count(self, number: str) -> int:
        return sum(1 for call in self.calls if call.number == number)

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    def body_for(self, carrier: str, number: str) -> bytes:
        if number in self.bodies:
            return self.bodies[number]
        return (FIXTURES / carrier / PAYLOADS[carrier]).read_bytes()

    def answer(self, carrier: str, number: str) -> Response:
        plan = self.plans.get(number) or []
        step = plan.pop(0) if plan else "ok"
        match step:
            case "ok":
                media = "text/xml;charset=UTF-8" if carrier == "chronopost" else "application/json"
                return Response(self.body_for(carrier, number), media_type=media)
            case "notfound" if carrier == "chronopost":
                return Response(chronopost_answer("0", number), media_type="text/xml")
            case "system-error":
                return Response(chronopost_answer("1", number), media_type="text/xml")
            case "notfound":
                status, document = NOT_FOUND[carrier]
                return JSONResponse(document, status_code=status)
            case "400" if carrier not in BAD_REQUEST:
                return Response(status_code=400)
            case "400":
                return JSONResponse(BAD_REQUEST[carrier][0], status_code=400)
            case "401":
                return JSONResponse(UNAUTHORIZED[carrier], status_code=401)
            case "429" | "429-long":
                wait = "3600" if step == "429-long" else self.retry_after
                return Response(status_code=429, headers={"Retry-After": wait})
            case _:
                return Response(status_code=int(step))

    def record(self, carrier: str, number: str, request: Request, body: Any) -> None:
        self.calls.append(
            Call(
                carrier,
                number,
                dict(request.headers),
                dict(request.query_params),
                body,
                time.monotonic(),
            )
        )

    def bearer_valid(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.valid_tokens

    def issue(self) -> str:
        token = f"token-{len(self.token_requests)}"
        self.valid_tokens.add(token)
        return token

    # UPS: OAuthClientCredentials.yaml and Tracking.yaml
    async def ups_token(self, request: Request) -> Response:
        form = dict(await request.form())
        self.token_requests.append(
            {
                "carrier": "ups",
                "authorization": request.headers.get("authorization", ""),
                **{k: str(v) for k, v in form.items()},
            }
        )
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if (
            request.headers.get("authorization") != expected
            or form.get("grant_type") != "client_credentials"
        ):
            return JSONResponse(
                {
                    "response": {
                        "errors": [{"code": "250003", "message": "Invalid Access License number"}]
                    }
                },
                status_code=401,
            )
        return JSONResponse(
            {
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "client_id": CLIENT_ID,
                "access_token": self.issue(),
                "expires_in": str(self.token_lifetime_s),
                "refresh_count": "0",
                "status": "approved",
            }
        )

    async def ups_track(self, request: Request) -> Response:
        number = request.path_params["number"]
        self.record("ups", number, request, None)
        if not self.bearer_valid(request):
            return JSONResponse(UNAUTHORIZED["ups"], status_code=401)
        if not request.headers.get("transid") or not request.headers.get("transactionsrc"):
            return JSONResponse(BAD_REQUEST["ups"][0], status_code=400)
        return self.answer("ups", number)

    # FedEx: API Authorization and Track API
    async def fedex_token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append({"carrier": "fedex", **form})
        if form != {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "code": "NOT.AUTHORIZED.ERROR",
                            "message": "The given client credentials were not valid.",
                        }
                    ]
                },
                status_code=401,
            )
        return JSONResponse(
            {
                "access_token": self.issue(),
                "token_type": "bearer",
                "expires_in": self.token_lifetime_s,
                "scope": "CXS",
            }
        )

    async def fedex_track(self, request: Request) -> Response:
        body = json.loads(await request.body())
        number = body["trackingInfo"][0]["trackingNumberInfo"]["trackingNumber"]
        self.record("fedex", number, request, body)
        if not self.bearer_valid(request):
            return JSONResponse(UNAUTHORIZED["fedex"], status_code=401)
        return self.answer("fedex", number)

    # DHL: Shipment Tracking - Unified
    async def dhl_track(self, request: Request) -> Response:
        number = request.query_params.get("trackingNumber", "")
        self.record("dhl", number, request, None)
        if request.headers.get("dhl-api-key") != API_KEY:
            return JSONResponse(UNAUTHORIZED["dhl"], status_code=401)
        return self.answer("dhl", number)

    # La Poste: Suivi v2
    async def laposte_track(self, request: Request) -> Response:
        number = request.path_params["number"]
        self.record("colissimo", number, request, None)
        if request.headers.get("x-okapi-key") != API_KEY:
            return JSONResponse(UNAUTHORIZED["colissimo"], status_code=401)
        return self.answer("colissimo", number)

    # Chronopost: TrackingServiceWS (SOAP 1.1), no credentials
    async def chronopost_track(self, request: Request) -> Response:
        body = await request.body()
        found = re.search(rb"<skybillNumber>([^<]{1,64})</skybillNumber>", body)
        number = found.group(1).decode() if found else ""
        self.record("chronopost", number, request, body.decode())
        if not request.headers.get("content-type", "").startswith("text/xml"):
            return Response(status_code=415)
        return self.answer("chronopost", number)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/security/v1/oauth/token", self.ups_token, methods=["POST"]),
                Route("/api/track/v1/details/{number}", self.ups_track),
                Route("/oauth/token", self.fedex_token, methods=["POST"]),
                Route("/track/v1/trackingnumbers", self.fedex_track, methods=["POST"]),
                Route("/track/shipments", self.dhl_track),
                Route("/suivi/v2/idships/{number}", self.laposte_track),
                Route("/tracking-cxf/TrackingServiceWS", self.chronopost_track, methods=["POST"]),
            ]
        )


@pytest.fixture
async def apis() -> AsyncIterator[CarrierApis]:
    state = CarrierApis()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            state.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError("the test carrier APIs did not start")
    state.base_url = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    await task


def credentials(apis: CarrierApis, carrier: str, **extra: Any) -> PullCredentials:
    secrets: dict[str, Any] = (
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        if carrier in OAUTH_CARRIERS
        else {}
        if carrier in KEYLESS_CARRIERS
        else {"api_key": API_KEY}
    )
    limits = {"max_calls": 100, "per_s": 1.0}
    return PullCredentials.model_validate({"base_url": apis.base_url, **limits, **secrets, **extra})


@pytest.fixture
async def client_for(apis: CarrierApis) -> AsyncIterator[Callable[..., PullClient]]:
    built: list[PullClient] = []

    def build(
        carrier: str, *, attempts: int = 3, max_wait_s: float = 5.0, **extra: Any
    ) -> PullClient:
        clients = build_pull_clients(
            {carrier: credentials(apis, carrier, **extra)},
            retry=PollRetry(max_attempts=attempts, backoff_initial_s=0.05, backoff_max_s=0.2),
            http=lambda: httpx.AsyncClient(timeout=5),
            max_wait_s=max_wait_s,
        )
        built.append(clients[carrier])
        return clients[carrier]

    yield build
    for client in built:
        await client.aclose()


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_each_client_sends_the_documented_request_and_its_adapter_reads_the_answer(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    number = number_of(carrier)
    fetched = await client_for(carrier).fetch(number)
    assert fetched is not None
    xml = carrier == "chronopost"
    assert fetched.content_type.startswith("text/xml" if xml else "application/json")
    events = carriers.parse(carrier, fetched.body)
    assert [carriers.to_record(event) for event in events] == expected_records(carrier)

    [call] = apis.calls
    assert call.number == number
    match carrier:
        case "ups":
            assert call.headers["authorization"] == "Bearer token-1"
            assert len(call.headers["transid"]) <= 32
            assert call.headers["transactionsrc"] == "relais"
            assert call.query["locale"] == "en_US"
            [token] = apis.token_requests
            assert token["grant_type"] == "client_credentials"
            assert token["authorization"].startswith("Basic ")
        case "fedex":
            assert call.headers["authorization"] == "Bearer token-1"
            assert call.body == {
                "includeDetailedScans": True,
                "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": number}}],
            }
            assert len(apis.token_requests) == 1
        case "dhl":
            assert call.headers["dhl-api-key"] == API_KEY
            assert call.query == {"trackingNumber": number, "language": "en"}
        case "colissimo":
            assert call.headers["x-okapi-key"] == API_KEY
            assert call.query == {"lang": "fr_FR"}
        case "chronopost":
            assert call.headers["content-type"] == "text/xml; charset=utf-8"
            assert "<cxf:trackSkybillV2><language>fr_FR</language>" in call.body
            assert 'xmlns:cxf="http://cxf.tracking.soap.chronopost.fr/"' in call.body


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_5xx_is_retried_with_backoff_then_given_up(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    number = number_of(carrier)
    client = client_for(carrier, attempts=3)
    apis.plans[number] = ["503", "502"]
    assert await client.fetch(number) is not None
    assert apis.count(number) == 3, "two server errors, then the answer"

    apis.plans[number] = ["503"] * 5
    with pytest.raises(PollError, match="gave up after 3 attempts"):
        await client.fetch(number)
    assert apis.count(number) == 6


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_429_waits_for_its_retry_after(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    number = number_of(carrier)
    client = client_for(carrier)
    apis.plans[number] = ["429"]
    assert await client.fetch(number) is not None
    first, second = [call.at for call in apis.calls if call.number == number]
    assert second - first >= 0.95, "Retry-After: 1 honoured"


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_long_retry_after_stops_polling_that_carrier_until_then(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    number = number_of(carrier)
    client = client_for(carrier, max_wait_s=2.0)
    apis.plans[number] = ["429-long"]
    started = time.monotonic()
    with pytest.raises(PollError, match="paused by the carrier"):
        await client.fetch(number)
    with pytest.raises(PollError, match="paused by the carrier"):
        await client.fetch(number)
    assert time.monotonic() - started < 2.0, "no waiting an hour in the polling loop"
    assert apis.count(number) == 1, "no call while the carrier asked for a pause"


@pytest.mark.parametrize("carrier", JSON_CARRIERS)
async def test_an_unknown_number_is_nothing_yet_and_a_refused_one_is_skipped(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    client = client_for(carrier)
    apis.plans["UNKNOWN0001"] = ["notfound"]
    assert await client.fetch("UNKNOWN0001") is None
    apis.plans["BAD0001"] = ["400"]
    with pytest.raises(PollRejected) as rejected:
        await client.fetch("BAD0001")
    assert rejected.value.status == 400
    assert rejected.value.code == BAD_REQUEST[carrier][1]
    assert "BAD0001" not in str(rejected.value), "no tracking number in what is logged"
    assert apis.count("BAD0001") == 1, "a 4xx is not retried"


@pytest.mark.parametrize("carrier", ["dhl", "colissimo"])
async def test_a_refused_api_key_fails_without_retrying(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    client = client_for(carrier, api_key="not-the-key")
    with pytest.raises(PollError, match="credentials refused"):
        await client.fetch(number_of(carrier))
    assert len(apis.calls) == 1


@pytest.mark.parametrize("carrier", OAUTH_CARRIERS)
async def test_a_token_is_cached_and_renewed_once_when_refused(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    number = number_of(carrier)
    client = client_for(carrier)
    for _ in range(3):
        assert await client.fetch(number) is not None
    assert len(apis.token_requests) == 1, "one token for every call while it is valid"

    apis.revoke_tokens()  # expired or revoked early: the API answers 401
    assert await client.fetch(number) is not None
    assert len(apis.token_requests) == 2
    assert [call.headers["authorization"] for call in apis.calls[-2:]] == [
        "Bearer token-1",
        "Bearer token-2",
    ]

    apis.plans[number] = ["401", "401"]  # refused even with a new token: not looped on
    with pytest.raises(PollError, match="credentials refused"):
        await client.fetch(number)
    assert len(apis.token_requests) == 3


@pytest.mark.parametrize("carrier", OAUTH_CARRIERS)
async def test_a_token_is_renewed_before_it_expires(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    apis.token_lifetime_s = 1  # renewed a tenth of its lifetime early
    number = number_of(carrier)
    client = client_for(carrier)
    assert await client.fetch(number) is not None
    await asyncio.sleep(1.0)
    assert await client.fetch(number) is not None
    assert len(apis.token_requests) == 2
    assert all(call.headers["authorization"] != "Bearer token-1" for call in apis.calls[1:])
    assert apis.count(number) == 2, "renewed before a call was refused"


@pytest.mark.parametrize("carrier", OAUTH_CARRIERS)
async def test_refused_client_credentials_never_reach_the_tracking_api(
    carrier: str, apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    client = client_for(carrier, client_secret="wrong-secret")
    with pytest.raises(PollError, match="token endpoint answered 401") as failed:
        await client.fetch(number_of(carrier))
    assert "wrong-secret" not in str(failed.value)
    assert apis.calls == []
    assert len(apis.token_requests) == 1, "refused credentials are not retried"


async def test_calls_keep_to_the_carrier_rate_limit(
    apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    client = client_for("dhl", max_calls=2, per_s=1.0)
    number = number_of("dhl")
    started = time.monotonic()
    await asyncio.gather(*(client.fetch(number) for _ in range(5)))
    # 2 per second with a bucket of 2: the last three calls wait about 0.5 s each.
    assert time.monotonic() - started >= 1.3
    assert apis.count(number) == 5


async def test_chronopost_system_errors_are_retried_and_unknown_numbers_are_nothing_yet(
    apis: CarrierApis, client_for: Callable[..., PullClient]
) -> None:
    client = client_for("chronopost")
    number = number_of("chronopost")
    apis.plans[number] = ["system-error"]
    assert await client.fetch(number) is not None
    assert apis.count(number) == 2, "errorCode 1 (System Error) is retried"
    apis.plans["XX000000000FR"] = ["notfound"]
    assert await client.fetch("XX000000000FR") is None
    apis.plans["XX000000001FR"] = ["400"]
    with pytest.raises(PollRejected) as rejected:
        await client.fetch("XX000000001FR")
    assert rejected.value.status == 400


def chronopost_answer(error_code: str, number: str) -> bytes:
    """A trackSkybillV2 answer without events (TrackingServiceWS.xsd)."""
    message = "<errorMessage>System Error</errorMessage>" if error_code != "0" else ""
    events = (
        ""
        if error_code != "0"
        else f"<listEventInfoComp><skybillNumber>{number}</skybillNumber></listEventInfoComp>"
    )
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<ns2:trackSkybillV2Response xmlns:ns2="http://cxf.tracking.soap.chronopost.fr/">'
        f"<return><errorCode>{error_code}</errorCode>{message}{events}</return>"
        "</ns2:trackSkybillV2Response></soap:Body></soap:Envelope>"
    ).encode()


def dhl_answer(number: str, *, status: str, description: str) -> bytes:
    """A DHL Unified answer with one event (developer.dhl.com shipment-tracking)."""
    moment = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    return json.dumps(
        {
            "shipments": [
                {
                    "id": number,
                    "service": "parcel-de",
                    "status": {"timestamp": moment, "statusCode": "transit", "status": status},
                    "events": [
                        {
                            "timestamp": moment,
                            "location": {
                                "address": {"countryCode": "DE", "addressLocality": "Bonn"}
                            },
                            "statusCode": "transit",
                            "status": status,
                            "description": description,
                        }
                    ],
                }
            ]
        }
    ).encode()


async def test_the_tracker_polls_out_for_delivery_and_near_promises_more_often(
    start_tracker: StartTracker, apis: CarrierApis
) -> None:
    out, moving, near = "JJD0001RLOUT", "JJD0002RLMOVE", "JJD0003RLNEAR"
    loaded = "The shipment has been loaded onto the delivery vehicle"
    processed = "The shipment has been processed in the parcel center"
    apis.bodies[out] = dhl_answer(out, status="IN DELIVERY", description=loaded)
    apis.bodies[moving] = dhl_answer(moving, status="IN TRANSIT", description=processed)
    apis.bodies[near] = dhl_answer(near, status="IN TRANSIT", description=processed)
    tracker = await start_tracker(
        pull_carriers={"dhl": credentials(apis, "dhl")},
        poll_interval_s=60.0,
        poll_out_for_delivery_interval_s=0.3,
        poll_promise_near_interval_s=0.3,
        poll_backoff_initial_s=0.05,
    )
    today = datetime.now(UTC).date()
    far_promise = order_body(parcels=[("P-OUT", out), ("P-MOVE", moving)])
    near_promise = order_body(parcels=[("P-NEAR", near)])
    near_promise.update(
        promised_delivery_from=today.isoformat(), promised_delivery_by=today.isoformat()
    )
    for body in (far_promise, near_promise):
        for parcel in body["parcels"]:
            parcel["carrier"] = "DHL"
        placed = await tracker.client.post("/v1/orders", json=body, headers=tracker.auth("shop-a"))
        assert placed.status_code == 202

    async def statuses() -> Any:
        rows = await tracker.query(
            "SELECT shipment_id, status FROM shipments WHERE status <> 'pending' ORDER BY 1"
        )
        found = {row["shipment_id"]: row["status"] for row in rows}
        return found if len(found) == 3 else None

    assert await eventually(statuses, timeout_s=20) == {
        "P-MOVE": "in_transit",
        "P-NEAR": "in_transit",
        "P-OUT": "out_for_delivery",
    }
    counts = {number: apis.count(number) for number in (out, moving, near)}
    await asyncio.sleep(2.0)
    assert apis.count(moving) == counts[moving] == 1, "in transit, promise far: once an hour"
    assert apis.count(out) >= counts[out] + 3, "out for delivery: every 0.3 s"
    assert apis.count(near) >= counts[near] + 3, "promised today: every 0.3 s"
