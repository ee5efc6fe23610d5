"""The standard library's loggers (aiokafka, uvicorn, alembic, asyncpg, httpx) write through
the structlog JSON pipeline: same JSON, same service context, same redaction, no query
strings."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from relais_runtime.logging import (
    LIBRARY_LOGGERS,
    REDACTED,
    configure_logging,
    without_query,
)


@pytest.fixture
def json_logs() -> Iterator[None]:
    """configure_logging for the test, then the logging configuration as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libraries = {
        name: (
            logging.getLogger(name).level,
            list(logging.getLogger(name).handlers),
            logging.getLogger(name).propagate,
        )
        for name in LIBRARY_LOGGERS
    }
    configure_logging(service="tracker", level="info", fmt="json")
    yield
    root.handlers = handlers
    root.setLevel(level)
    for name, (library_level, library_handlers, propagate) in libraries.items():
        library = logging.getLogger(name)
        library.setLevel(library_level)
        library.handlers = library_handlers
        library.propagate = propagate
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.usefixtures("json_logs")
def test_library_loggers_write_json_with_the_service_and_redaction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.getLogger("aiokafka").warning(
        "Unable to connect to node %s",
        "broker-1",
        extra={"email": "jeanne@example.fr", "node": "broker-1"},
    )
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO)  # as with access_log on and log_level="info"
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "203.0.113.7:51234",
        "GET",
        "/c/signed-token?sig=s3cr3t&lang=fr",
        "1.1",
        200,
    )

    captured = capsys.readouterr()
    written = captured.err + captured.out
    kafka_line, access_line = json_lines(written)
    assert kafka_line["service"] == "tracker"
    assert kafka_line["logger"] == "aiokafka"
    assert kafka_line["level"] == "warning"
    assert kafka_line["event"] == "Unable to connect to node broker-1"
    assert kafka_line["email"] == REDACTED
    assert kafka_line["node"] == "broker-1"
    assert "timestamp" in kafka_line

    assert access_line["service"] == "tracker"
    assert access_line["logger"] == "uvicorn.access"
    assert access_line["path"] == "/c/signed-token"
    assert (access_line["method"], access_line["status"]) == ("GET", 200)
    assert "s3cr3t" not in written
    assert "203.0.113.7" not in written
    assert "jeanne" not in written


@pytest.mark.usefixtures("json_logs")
def test_a_url_query_in_any_library_message_is_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.getLogger("httpx").warning(
        'HTTP Request: %s %s "%s"', "GET", "https://api.carrier.example/track?apikey=K3Y", "200"
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("alembic").exception("migration of /x?token=T0K failed")

    written = capsys.readouterr().err
    httpx_line, alembic_line = json_lines(written)
    assert httpx_line["event"] == (
        f'HTTP Request: GET https://api.carrier.example/track?{REDACTED} "200"'
    )
    assert alembic_line["event"] == f"migration of /x?{REDACTED} failed"
    assert "RuntimeError: boom" in alembic_line["exception"]
    assert "K3Y" not in written
    assert "T0K" not in written


@pytest.mark.usefixtures("json_logs")
def test_library_info_lines_stay_below_the_floor_and_handlers_do_not_pile_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(service="tracker", level="info", fmt="json")  # a second time
    logging.getLogger("asyncpg").info("chatty")
    logging.getLogger("asyncpg").warning("connection lost")

    lines = json_lines(capsys.readouterr().err)
    assert [line["event"] for line in lines] == ["connection lost"]


def test_without_query_keeps_text_without_urls() -> None:
    assert without_query("is it late? yes") == "is it late? yes"
    assert without_query("GET /t/abc?x=1 200") == f"GET /t/abc?{REDACTED} 200"
    assert without_query("https://h/p?q=1#frag") == f"https://h/p?{REDACTED}#frag"
