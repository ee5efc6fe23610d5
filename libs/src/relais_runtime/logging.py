"""structlog JSON logging shared by every service.

Rules:
- one JSON object per line on stderr, with the service name and, while a message
  is handled, its correlation id and event id (bound through contextvars);
- no personal data: values under keys that name personal data (email, phone,
  address, names...) are replaced by "[redacted]" wherever they appear, nested
  too, before anything is written;
- the standard library's loggers (aiokafka, uvicorn, alembic, asyncpg, httpx...) go
  through the same processors, from one handler on the root logger: same JSON, same
  context, same redaction, with the logger's name under "logger" and `extra=` fields
  as keys. Their floor is WARNING (their INFO is chatty);
- no query strings: tokens travel in URLs (signed links, API keys), so a URL's query
  in a library's message is replaced by "[redacted]", and uvicorn's access lines keep
  the method, the path without its query and the status (not the client address).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

PERSONAL_DATA_KEYS = frozenset(
    {
        "email",
        "phone",
        "phone_number",
        "address",
        "address_line1",
        "address_line2",
        "street",
        "first_name",
        "last_name",
        "full_name",
        "name",
        "recipient",
        "customer",
        "contact",
        "postal_address",
        "comment",
    }
)
REDACTED = "[redacted]"

# The libraries whose standard-library loggers must reach the JSON pipeline. Their own
# handlers are removed and they propagate to the root logger's one handler.
LIBRARY_LOGGERS = (
    "aiokafka",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "alembic",
    "asyncpg",
    "httpx",
    "httpcore",
)

# A URL (absolute, or a path) followed by its query: the query goes, the rest stays.
_URL_QUERY = re.compile(r"(?P<url>(?:[a-zA-Z][a-zA-Z0-9+.-]*://|/)[^\s?#\"'<>]*)\?[^\s#\"'<>]*")


def redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            key: REDACTED if str(key).lower() in PERSONAL_DATA_KEYS else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in PERSONAL_DATA_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact(event_dict[key])
    return event_dict


def without_query(text: str) -> str:
    """`text` with the query string of every URL or path in it replaced by [redacted]."""
    return _URL_QUERY.sub(lambda match: f"{match['url']}?{REDACTED}", text)


def library_record(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A standard-library record made safe: uvicorn's access line as fields without the
    query or the client, and any other message with its URLs' queries redacted."""
    args = event_dict.pop("positional_args", ())
    # Copies of the unredacted message, not extras: uvicorn's ANSI one, and those another
    # handler's Formatter left on the record (`message`, `asctime`).
    for copy in ("color_message", "message", "asctime"):
        event_dict.pop(copy, None)
    record = event_dict.get("_record")
    if (
        record is not None
        and record.name == "uvicorn.access"
        and isinstance(args, tuple)
        and len(args) == 5
    ):
        _client, method, path, http_version, status = args
        event_dict["event"] = "http request"
        event_dict["method"] = str(method)
        event_dict["path"] = str(path).split("?", 1)[0]
        event_dict["http_version"] = str(http_version)
        event_dict["status"] = status
        return event_dict
    event = event_dict.get("event")
    if isinstance(event, str) and "?" in event:
        event_dict["event"] = without_query(event)
    return event_dict


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when a record is emitted (tests swap it), like
    structlog's own lines; the one handler `configure_logging` puts on the root logger."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(*, service: str, level: str = "info", fmt: str = "json") -> None:
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(),
            library_record,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
        pass_foreign_args=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(max(numeric_level, logging.WARNING))
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers = []
        library.propagate = True
        library.disabled = False  # a dictConfig elsewhere may have disabled existing loggers
        library.setLevel(logging.NOTSET)  # the root's level: warnings and up


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
