"""The reference of every `RELAIS_` setting, generated from the settings models.

`relais settings reference` writes docs/configuration.md and `.env.example` at the root
of this checkout; `relais settings reference --check` writes nothing and exits 1 when
they differ from the models (tests/unit/test_settings_reference.py does the same).

Rules:
- the models are the source: RuntimeSettings (with KafkaSettings) for what every
  service reads, each service's Settings class (relais_<service>.settings), and the
  `relais` command's own InfraSettings; fields come from pydantic's `model_fields`, the
  description from `Field(description=...)` or else the attribute docstring under it;
  and else the short text in DESCRIPTIONS below (better: a `description` in the model);
- a variable is `RELAIS_` + the field name in upper case, unless the field has a
  validation alias (`DATABASE_URL`, `OTEL_TRACES_EXPORTER`): then those names;
- a secret (a SecretStr, or a name that says password, secret or token) never shows a
  value: it is `required` or `unset`;
- the output depends on nothing but the models (no machine paths, no dates), so the
  committed files can be compared byte for byte.
"""

from __future__ import annotations

import ast
import enum
import functools
import importlib
import inspect
import json
import re
import textwrap
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic import AliasChoices, AliasPath, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

REPO_ROOT = Path(__file__).resolve().parents[3]
DOC_PATH = Path("docs") / "configuration.md"
ENV_EXAMPLE_PATH = Path(".env.example")
REGENERATE = "relais settings reference"
CLI_READER = "relais"
"""The reader name of the `relais` command's own settings (local infrastructure)."""

_SECRET_NAME = re.compile(r"(password|secret|token)", re.IGNORECASE)

DESCRIPTIONS: dict[str, str] = {
    "kafka_bootstrap": "Kafka bootstrap servers, `host:port`, comma-separated.",
    "kafka_client_id": "The client id the brokers see (their logs and quotas).",
    "kafka_linger_ms": "How long a producer waits to put more messages in one batch.",
    "kafka_request_timeout_ms": "Longest wait for a broker's answer to one request.",
    "kafka_sasl_username": "SASL user (SASL_SSL and SASL_PLAINTEXT only).",
    "kafka_sasl_password": "SASL password (SASL_SSL and SASL_PLAINTEXT only).",
    "kafka_ssl_key_password": "Password of the client certificate's private key, if it has one.",
    "service_name": "The service's name in its logs, metrics and traces.",
    "database_url": "PostgreSQL connection URL; `?sslmode=` (up to `verify-full`) for TLS.",
    "database_pool_min": "Connections the service's pool keeps open at least.",
    "database_pool_max": "Connections the service's pool opens at most.",
    "http_host": "Address the HTTP server listens on (`0.0.0.0` in a container).",
    "http_port": "Port of the HTTP server: /health, /ready, /metrics and the service's routes.",
    "log_level": "Lowest level written.",
    "log_format": "`json` (one object per line, redacted) or `console` (for a terminal).",
    "merchants_dir": "Directory of merchant configuration, one YAML per merchant "
    "(`relais merchant`); unset: no merchant.",
    "consumer_backoff_initial_s": "First wait before a message whose handling failed is "
    "tried again (it grows up to the maximum).",
    "consumer_backoff_max_s": "Longest wait between two tries of one message.",
    "shutdown_grace_s": "How long a stopping service lets work in flight finish.",
    "outbox_batch_size": "Outbox rows published per batch.",
    "outbox_poll_interval_s": "How often the outbox relay looks for rows to publish.",
    "link_max_age_days": "How long the links a message carries (chat, tracking, survey) "
    "open their page.",
    "unsubscribe_link_max_age_days": "How long an unsubscribe link works.",
    "smtp_host": "SMTP server.",
    "smtp_port": "SMTP server port.",
    "smtp_starttls": "Upgrade the SMTP connection with STARTTLS.",
    "smtp_username": "SMTP user (unset: no authentication).",
    "smtp_password": "SMTP password.",
    "smtp_timeout_s": "Longest wait for the SMTP server.",
    "sms_twilio_base_url": "Twilio's API (tests point it at a stub).",
    "sms_twilio_account_sid": "Twilio account SID (`AC` and 32 hex digits).",
    "sms_twilio_auth_token": "Twilio auth token.",
    "sms_timeout_s": "Longest wait for the SMS provider.",
    "send_backoff_initial_s": "First wait between two in-process tries of one send.",
    "send_backoff_max_s": "Longest wait between two in-process tries of one send.",
    "retry_jitter": "Random extra delay, as a share of the retry delay (0.2: up to 20 %).",
    "sweep_batch_size": "Timers (detector) or due messages (notifier) handled per sweep.",
    f"{CLI_READER}:state_dir": "Where the local Kafka, PostgreSQL and their logs keep state.",
    f"{CLI_READER}:cache_home": "Downloads kept across `relais down` (the Kafka jars) go "
    "under `$XDG_CACHE_HOME/relais`.",
    f"{CLI_READER}:database_url": "The PostgreSQL the commands use (the local one by default).",
    f"{CLI_READER}:kafka_port": "Port of the local Kafka broker.",
    f"{CLI_READER}:kafka_controller_port": "Port of the local broker's KRaft controller.",
    f"{CLI_READER}:kafka_bootstrap_override": "A broker to use instead of the local one.",
    f"{CLI_READER}:kafka_ready_timeout_s": "How long `relais up` waits for the local broker.",
    f"{CLI_READER}:smtp_port": "Port of the local SMTP catcher.",
    f"{CLI_READER}:java_home": "The Java runtime that runs the local Kafka.",
}
"""Descriptions of fields whose model has none; `<reader>:<field>` for one reader only."""


@dataclass(frozen=True)
class Default:
    """A field's default: `required` (none), `unset` (None) or a value as the environment
    would write it (`""` is the empty string, not unset)."""

    kind: Literal["required", "unset", "value"]
    value: str = ""


@dataclass(frozen=True)
class Setting:
    field: str
    names: tuple[str, ...]
    """Environment variables, the first one preferred."""
    type: str
    defaults: dict[str, Default]
    """By reader (service)."""
    secret: bool
    description: str
    readers: tuple[str, ...]
    group: str

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def required(self) -> bool:
        return any(default.kind == "required" for default in self.defaults.values())

    @property
    def same_default(self) -> bool:
        return len(set(self.defaults.values())) == 1

    def shown(self, default: Default, *, markdown: bool) -> str:
        """A default as the reference shows it (a secret's value never)."""
        if default.kind == "required":
            return "**required**" if markdown else "required"
        if default.kind == "unset" or self.secret:
            return "unset"
        if not markdown:
            return default.value
        return f"`{default.value}`" if default.value else '`""` (empty)'

    def default_text(self, *, markdown: bool) -> str:
        """One default, or each reader's when they differ."""
        if self.same_default:
            return self.shown(next(iter(self.defaults.values())), markdown=markdown)
        return ", ".join(
            f"{reader} {self.shown(default, markdown=markdown)}"
            for reader, default in self.defaults.items()
        )


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    intro: str


GROUPS = (
    Group(
        "kafka",
        "Kafka (every service)",
        "How every producer, consumer and admin client of a service reaches the brokers "
        "(relais_runtime.settings.KafkaSettings; transport security in "
        "relais_runtime.kafka_security).",
    ),
    Group(
        "runtime",
        "Runtime (every service)",
        "Database, HTTP, logs, consumers, outbox, clock and tracing "
        "(relais_runtime.settings.RuntimeSettings). A service may change a default "
        "(its port, its name).",
    ),
    Group(
        "service",
        "Service settings",
        "Read only by the services named (relais_<service>.settings).",
    ),
    Group(
        CLI_READER,
        "The relais command (local infrastructure)",
        "Read by `relais up`, `relais demo`, `relais test` and `relais infra` for the "
        "local Kafka, PostgreSQL and SMTP catcher (relais_cli.infra.settings); not by the "
        "services.",
    ),
)


def service_settings() -> dict[str, type[BaseModel]]:
    """Each service's Settings class, by service name (relais_<service>.settings)."""
    from relais_cli.run_cmd import ServiceName
    from relais_runtime.settings import RuntimeSettings

    found: dict[str, type[BaseModel]] = {}
    for service in ServiceName:
        module = importlib.import_module(f"relais_{service.value}.settings")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, RuntimeSettings)
                and cls is not RuntimeSettings
                and cls.__module__ == module.__name__
            ):
                found[service.value] = cls
    return found


def collect() -> list[Setting]:
    """Every setting, in the order of GROUPS then of the models' fields."""
    from relais_cli.infra.settings import InfraSettings
    from relais_runtime.settings import KafkaSettings, RuntimeSettings

    services = service_settings()
    kafka = set(KafkaSettings.model_fields)
    runtime = set(RuntimeSettings.model_fields) - kafka
    readers: dict[str, dict[str, tuple[type[BaseModel], FieldInfo]]] = {}
    for service, cls in services.items():
        for name, info in cls.model_fields.items():
            readers.setdefault(name, {})[service] = (cls, info)
    settings = [
        _setting(name, by_reader, _group(name, kafka, runtime))
        for name, by_reader in readers.items()
    ]
    settings += [
        _setting(name, {CLI_READER: (InfraSettings, info)}, CLI_READER)
        for name, info in InfraSettings.model_fields.items()
    ]
    order = {group.key: index for index, group in enumerate(GROUPS)}
    return sorted(settings, key=lambda setting: order[setting.group])


def _group(name: str, kafka: set[str], runtime: set[str]) -> str:
    if name in kafka:
        return "kafka"
    return "runtime" if name in runtime else "service"


def _setting(
    name: str, by_reader: dict[str, tuple[type[BaseModel], FieldInfo]], group: str
) -> Setting:
    _, info = next(iter(by_reader.values()))
    secret = _is_secret(name, info.annotation)
    descriptions: dict[str, str] = {}
    for reader, (reader_cls, reader_info) in by_reader.items():
        text = _describe(name, reader_cls, reader_info) or DESCRIPTIONS.get(
            f"{reader}:{name}", DESCRIPTIONS.get(name, "")
        )
        if text:
            descriptions.setdefault(text, reader)
    if len(descriptions) > 1:
        description = " ".join(f"{reader}: {text}" for text, reader in descriptions.items())
    else:
        description = next(iter(descriptions), "")
    return Setting(
        field=name,
        names=_env_names(name, info),
        type=_type_text(info.annotation) + _constraints(info),
        defaults={reader: _default(i) for reader, (_, i) in by_reader.items()},
        secret=secret,
        description=description,
        readers=tuple(by_reader),
        group=group,
    )


def _env_names(name: str, info: FieldInfo) -> tuple[str, ...]:
    from relais_runtime.settings import ENV_PREFIX

    alias = info.validation_alias or info.alias
    if alias is None:
        return (f"{ENV_PREFIX}{name.upper()}",)
    if isinstance(alias, AliasChoices):
        names = [choice for choice in alias.choices if isinstance(choice, str)]
    elif isinstance(alias, AliasPath):
        names = [str(alias.path[0])]
    else:
        names = [alias]
    names = [n.upper() for n in names]
    return tuple(sorted(names, key=lambda n: not n.startswith(ENV_PREFIX)))


def _is_secret(name: str, annotation: Any) -> bool:
    return bool(_SECRET_NAME.search(name)) or "SecretStr" in _type_text(annotation, raw=True)


def _type_text(annotation: Any, *, raw: bool = False) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _type_text(args[0], raw=raw)
    if origin in (Union, types.UnionType):
        kept = [arg for arg in args if arg is not type(None)]
        text = " or ".join(_type_text(arg, raw=raw) for arg in kept)
        return f"{text} (optional)" if len(kept) < len(args) else text
    if origin is Literal:
        return "one of " + ", ".join(f"`{arg}`" for arg in args)
    if origin in (tuple, list, set, frozenset):
        return f"JSON list of {_type_text(args[0], raw=raw)}" if args else "JSON list"
    if origin is dict:
        return f"JSON object ({_type_text(args[0], raw=raw)} to {_type_text(args[1], raw=raw)})"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    if raw:
        return getattr(annotation, "__name__", str(annotation))
    names = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        Path: "path",
        SecretStr: "secret string",
    }
    if annotation in names:
        return names[annotation]
    label = getattr(annotation, "__name__", str(annotation))
    return {"HttpUrl": "URL", "AnyUrl": "URL"}.get(label, label)


def _constraints(info: FieldInfo) -> str:
    bounds = []
    for item in info.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attribute, None)
            if value is not None:
                bounds.append(f"{sign} {value}")
        for attribute, word in (("min_length", "at least"), ("max_length", "at most")):
            value = getattr(item, attribute, None)
            if value is not None:
                bounds.append(f"{word} {value} long")
    return f", {', '.join(bounds)}" if bounds else ""


def _default(info: FieldInfo) -> Default:
    if info.is_required():
        return Default("required")
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if value is PydanticUndefined or value is None:
        return Default("unset")
    return Default("value", _env_value(value))


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Path):
        home = Path.home()
        return f"~/{value.relative_to(home)}" if value.is_relative_to(home) else str(value)
    if isinstance(value, tuple | list | set | frozenset | dict):
        return json.dumps(_plain(value))
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _describe(name: str, cls: type[BaseModel], info: FieldInfo) -> str:
    text = info.description or _attribute_docstring(cls, name) or ""
    text = " ".join(text.split())
    # "RELAIS_LINK_SECRET: signs..." says the variable's name again: keep what follows.
    text = re.sub(rf"^{_env_names(name, info)[0]}:?\s*", "", text)
    return text[:1].upper() + text[1:]


def _attribute_docstring(cls: type[BaseModel], name: str) -> str | None:
    """The string literal just under `name: ...` in the class that defines the field."""
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return _attribute_docstrings(klass).get(name)
    return None


@functools.cache
def _attribute_docstrings(klass: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    found = {}
    for statement, following in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[statement.target.id] = following.value.value
    return found


# --- rendering ---------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _readers(setting: Setting, services: Sequence[str]) -> str:
    if setting.group in {"kafka", "runtime"} and set(setting.readers) >= set(services):
        return "every service"
    return ", ".join(setting.readers)


def render_markdown(settings: Sequence[Setting], services: Sequence[str]) -> str:
    lines = [
        "# Configuration: every `RELAIS_` setting",
        "",
        f"<!-- Generated from the settings models by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "Every service reads its configuration once, at start-up, from environment",
        "variables (relais_runtime.settings): `RELAIS_` and the field name in upper case. A",
        "bad value stops start-up with the variable, the field and the reason. Lists and",
        "objects are written as JSON (`RELAIS_RETRY_DELAYS_S='[30, 300, 1800]'`). Secrets",
        "(marked 🔒) never have a default shown here; **required** ones have none at all.",
        "Merchant configuration (one YAML per merchant, `RELAIS_MERCHANTS_DIR`) is not here:",
        "see `relais merchant --help`; the secrets it references are named in each",
        "merchant's file.",
        "",
        "[`.env.example`](../.env.example) has the same variables, commented, with their",
        f"defaults. Both files are regenerated with `{REGENERATE}`, and",
        "`tests/unit/test_settings_reference.py` fails when they differ from the models.",
        "",
    ]
    for group in GROUPS:
        members = [setting for setting in settings if setting.group == group.key]
        if not members:
            continue
        lines += [f"## {group.title}", "", group.intro, ""]
        lines += [
            "| Variable | Type | Default | Read by | Description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for setting in members:
            name = f"`{setting.name}`" + "".join(f" or `{alias}`" for alias in setting.names[1:])
            if setting.secret:
                name += " 🔒"
            shown = setting.default_text(markdown=True)
            lines.append(
                "| "
                + " | ".join(
                    _cell(part)
                    for part in (
                        name,
                        setting.type,
                        shown,
                        _readers(setting, services),
                        setting.description,
                    )
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def render_env_example(settings: Sequence[Setting], services: Sequence[str]) -> str:
    lines = [
        "# Relais: every RELAIS_ environment variable, with its default.",
        f"# Generated from the settings models by `{REGENERATE}`; do not edit by hand.",
        "# Types, ranges and the services that read each: docs/configuration.md.",
        "#",
        "# A commented line shows the default: uncomment it to change the value. REQUIRED",
        "# lines are left uncommented and empty: a service that reads one refuses to start",
        "# until it is set. Lists and objects are JSON. Never commit real secrets.",
    ]
    written: set[str] = set()
    for group in GROUPS:
        members = [s for s in settings if s.group == group.key and s.name not in written]
        if not members:
            continue
        lines += ["", f"# --- {group.title} " + "-" * max(3, 82 - len(group.title))]
        for setting in members:
            written.add(setting.name)
            lines.append("")
            if setting.description:
                lines += [f"# {line}" for line in textwrap.wrap(setting.description, width=86)]
            facts = [setting.type.replace("`", "")]
            if setting.required:
                facts.insert(0, "REQUIRED")
            elif setting.secret and "secret" not in setting.type:
                facts.insert(0, "secret")
            facts.append(f"read by {_readers(setting, services)}")
            if not setting.same_default:
                facts.append(
                    "default "
                    + ", ".join(
                        f"{reader}={setting.shown(default, markdown=False)}"
                        for reader, default in setting.defaults.items()
                    )
                )
            facts += [f"also read as {name}" for name in setting.names[1:]]
            lines += [f"# {line}" for line in textwrap.wrap("; ".join(facts), width=86)]
            value = "" if setting.secret or setting.required else _single(setting)
            comment = "" if setting.required else "# "
            lines.append(f"{comment}{setting.name}={_quoted(value)}")
    return "\n".join(lines) + "\n"


def _single(setting: Setting) -> str:
    if not setting.same_default:
        return ""
    return next(iter(setting.defaults.values())).value


def _quoted(value: str) -> str:
    if value == "" or re.fullmatch(r"[A-Za-z0-9_./:@,+~-]+", value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def render_all() -> dict[Path, str]:
    """Each generated file (relative to the repository root) and its content."""
    settings = collect()
    services = tuple(service_settings())
    return {
        DOC_PATH: render_markdown(settings, services),
        ENV_EXAMPLE_PATH: render_env_example(settings, services),
    }


def stale_files(root: Path, rendered: dict[Path, str] | None = None) -> list[Path]:
    """The generated files under `root` that differ from the models."""
    files = rendered if rendered is not None else render_all()
    return [
        path
        for path, content in files.items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != content
    ]


# --- command -----------------------------------------------------------------------------

app = typer.Typer(help="Relais settings (RELAIS_* environment variables).", no_args_is_help=True)


@app.command()
def reference(
    root: Annotated[
        Path,
        typer.Option(
            "--root", help="The checkout to write into (default: this one).", file_okay=False
        ),
    ] = REPO_ROOT,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the files differ from the models."),
    ] = False,
) -> None:
    """Regenerate docs/configuration.md and .env.example from the settings models."""
    rendered = render_all()
    stale = stale_files(root, rendered)
    if check:
        if stale:
            names = ", ".join(str(path) for path in stale)
            typer.echo(f"out of date: {names}; regenerate with `{REGENERATE}`", err=True)
            raise typer.Exit(1)
        typer.echo("docs/configuration.md and .env.example are up to date")
        return
    for path, content in rendered.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content, encoding="utf-8")
    changed = ", ".join(str(path) for path in stale) or "nothing changed"
    typer.echo(f"wrote {DOC_PATH} and {ENV_EXAMPLE_PATH} under {root} ({changed})")
