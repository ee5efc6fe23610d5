"""`relais merchant`: create, validate and show merchant configuration, and manage the
order API keys it holds, without hand-editing YAML or hashing a key by hand.

Rules:
- one YAML per merchant (relais_runtime.merchants): `<DIR>/<merchant_id>.yaml`, the
  directory the services read (`--dir`, default RELAIS_MERCHANTS_DIR);
- every write is checked with the services' own loader before it is made, and made
  atomically (a temporary file in the same directory, then a rename): a file is never
  left half-written or invalid by this command, and `new` never overwrites one;
- an edit touches only the lines of the list it changes (`tracking.api_keys`), so the
  file's comments and layout stay; when the file is laid out in a way that edit does
  not know (a flow mapping, say), the file is rewritten from its data, and the command
  says that its comments were not kept;
- an API key is printed once, on stdout alone (so `KEY=$(relais merchant add-key ...)`
  works), and only its SHA-256 is stored (relais_runtime.api_keys); a key has scopes
  (`--scope orders|insights|backoffice`, repeatable); a key without any keeps the
  access keys had before scopes: orders and insights;
- `relais merchant user ...` manages the people of the back office (office_users_cmd);
- services read merchants at start-up: after a change, restart them (or roll out the
  ConfigMap on Kubernetes).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import BaseModel, ValidationError

from relais_cli import office_users_cmd
from relais_runtime.api_keys import ApiKeyRing, api_key_sha256
from relais_runtime.merchants import (
    MERCHANT_ID,
    MerchantConfig,
    MerchantConfigError,
    load_merchant_file,
    parse_merchant,
)
from relais_runtime.merchants.actions import standard_webhook_key
from relais_runtime.merchants.base import SecretRef
from relais_runtime.merchants.tracking import ApiKey, ApiScope
from relais_runtime.settings import ConfigurationError

app = typer.Typer(
    help=(
        "Merchant configuration (one YAML per merchant): create one, add or revoke its "
        "order API keys, validate a directory, show one with secrets redacted."
    ),
    no_args_is_help=True,
)
app.add_typer(office_users_cmd.app, name="user")

KEY_PREFIX = "rk_"
"""Order API keys look like `rk_<43 url-safe characters>` (256 random bits)."""
KEY_BYTES = 32
PROBLEMS_EXIT = 2
"""`validate` exits 2 when it found problems (1 is for a command that could not run)."""

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="RELAIS_MERCHANTS_DIR",
        help="The merchant configuration directory (default: RELAIS_MERCHANTS_DIR).",
        file_okay=False,
    ),
]
MerchantArgument = Annotated[str, typer.Argument(help="The merchant id (its file's name).")]


class MerchantCommandError(Exception):
    """The command cannot do what was asked; the message says why (exit 1)."""


# --- files -------------------------------------------------------------------------------


def merchant_file(directory: Path, merchant_id: str) -> Path:
    """The merchant's existing file (`.yaml`, else `.yml`); MerchantCommandError if none."""
    for suffix in (".yaml", ".yml"):
        path = directory / f"{merchant_id}{suffix}"
        if path.is_file():
            return path
    raise MerchantCommandError(f"{directory}: no configuration for merchant {merchant_id!r}")


def checked(path: Path, text: str) -> MerchantConfig:
    """What the services would load from `text` at `path`; MerchantConfigError if invalid."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MerchantConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise MerchantConfigError(f"{path}: (root): expected a mapping of settings")
    return parse_merchant(path, data)


def write_atomically(path: Path, text: str, *, create: bool = False) -> None:
    """Replace (or, with `create`, create without ever overwriting) `path` with `text`.

    The temporary file is hidden and has no `.yaml` suffix, so a service loading the
    directory meanwhile never sees it.
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if create:
            os.chmod(temporary, 0o644)
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise MerchantCommandError(f"{path}: already exists, not overwritten") from None
        else:
            os.chmod(temporary, path.stat().st_mode & 0o7777)
            os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


# --- new ---------------------------------------------------------------------------------


def minimal_document(
    merchant_id: str, *, display_name: str, locales: Sequence[str], time_zone: str
) -> str:
    """The smallest valid configuration, with pointers to what can be added."""

    def scalar(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    return textwrap.dedent(
        f"""\
        # Relais merchant configuration, read by every service at start-up
        # (relais_runtime.merchants; check it with `relais merchant validate DIR`).
        # Sections not written take their defaults: detection (docs/detector.md), chat
        # (docs/chat.md), insights (docs/insights.md); actions (docs/webhooks.md) and
        # notification (docs/notifier.md) stay off until written.
        merchant_id: {merchant_id}
        branding:
          display_name: {scalar(display_name)}
        locales: [{", ".join(scalar(locale) for locale in locales)}]
        time_zone: {scalar(time_zone)}
        tracking:
          # Order API keys, as SHA-256 only: `relais merchant add-key {merchant_id}`.
          api_keys: []
        """
    )


def create_merchant(
    directory: Path,
    merchant_id: str,
    *,
    display_name: str | None = None,
    locales: Sequence[str] = ("fr",),
    time_zone: str = "Europe/Paris",
) -> Path:
    if not directory.is_dir():
        raise MerchantCommandError(f"{directory}: not a directory")
    for suffix in (".yaml", ".yml"):
        existing = directory / f"{merchant_id}{suffix}"
        if existing.exists():
            raise MerchantCommandError(f"{existing}: already exists, not overwritten")
    path = directory / f"{merchant_id}.yaml"
    name = display_name or re.sub(r"[-_]+", " ", merchant_id).title()
    text = minimal_document(merchant_id, display_name=name, locales=locales, time_zone=time_zone)
    checked(path, text)
    write_atomically(path, text, create=True)
    load_merchant_file(path)
    return path


# --- api keys: edits of the `tracking.api_keys` list -------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _value_of(line: str) -> str:
    """What follows `key:` on a line, without a trailing comment."""
    rest = line.split(":", 1)[1]
    return re.sub(r"\s+#.*$", "", rest).strip()


def _is_item(line: str, indent: int) -> bool:
    stripped = line.strip()
    return _indent(line) == indent and (stripped == "-" or stripped.startswith("- "))


@dataclass(frozen=True)
class _NoTracking:
    """No `tracking:` section: one is appended."""


@dataclass(frozen=True)
class _NoKeys:
    """A block `tracking:` section without `api_keys`: the list goes first in it."""

    tracking_line: int
    child_indent: int


@dataclass(frozen=True)
class _EmptyKeys:
    """`api_keys: []`."""

    key_line: int
    key_indent: int


@dataclass(frozen=True)
class _Keys:
    """A block list `api_keys:` and its items."""

    key_line: int
    key_indent: int
    items: tuple[tuple[int, int], ...]
    """(first line, line after its last content line) of each item."""
    item_indent: int
    end: int
    """The line after the list's last content line."""


_Layout = _NoTracking | _NoKeys | _EmptyKeys | _Keys


def _locate_keys(lines: list[str]) -> _Layout | None:
    """Where `tracking.api_keys` is; None when the layout is not one these edits know
    (flow style, say)."""
    tracking = next((i for i, line in enumerate(lines) if re.match(r"^tracking\s*:", line)), None)
    if tracking is None:
        return _NoTracking()
    if _value_of(lines[tracking]):
        return None
    block_end = next(
        (
            i
            for i in range(tracking + 1, len(lines))
            if _is_content(lines[i]) and _indent(lines[i]) == 0
        ),
        len(lines),
    )
    contents = [i for i in range(tracking + 1, block_end) if _is_content(lines[i])]
    if not contents:
        return None
    child = _indent(lines[contents[0]])
    key_line = next(
        (
            i
            for i in contents
            if _indent(lines[i]) == child and re.match(r"^\s*api_keys\s*:", lines[i])
        ),
        None,
    )
    if key_line is None:
        return _NoKeys(tracking, child)
    value = _value_of(lines[key_line])
    if re.fullmatch(r"\[\s*\]", value):
        return _EmptyKeys(key_line, child)
    return None if value else _block_list(lines, key_line, child, block_end)


def _block_list(lines: list[str], key_line: int, child: int, block_end: int) -> _Keys | None:
    """The items under `api_keys:` (indented, or at the key's own indent as YAML allows)."""
    starts: list[int] = []
    last = key_line
    item_indent = child + 2
    for i in (i for i in range(key_line + 1, block_end) if _is_content(lines[i])):
        line = lines[i]
        if not starts:
            if _indent(line) < child or not line.strip().startswith("-"):
                break
            item_indent = _indent(line)
        if _is_item(line, item_indent):
            starts.append(i)
        elif _indent(line) <= item_indent:
            break
        last = i
    if not starts:
        return None
    items = []
    for start, bound in zip(starts, [*starts[1:], last + 1], strict=True):
        end = max(i for i in range(start, bound) if _is_content(lines[i])) + 1
        items.append((start, end))
    return _Keys(key_line, child, tuple(items), item_indent, last + 1)


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _key_entry(key: ApiKey) -> str:
    scopes = f", scopes: [{', '.join(scope.value for scope in key.scopes)}]" if key.scopes else ""
    return f"{{id: {json.dumps(key.id)}, sha256: {json.dumps(key.sha256)}{scopes}}}"


def _text_with_key(text: str, key: ApiKey) -> str | None:
    lines = _lines(text)
    where = _locate_keys(lines)
    entry = _key_entry(key)
    match where:
        case _NoTracking():
            return "".join(lines) + f"tracking:\n  api_keys:\n    - {entry}\n"
        case _NoKeys(tracking_line, child):
            added = [f"{' ' * child}api_keys:\n", f"{' ' * (child + 2)}- {entry}\n"]
            return "".join(lines[: tracking_line + 1] + added + lines[tracking_line + 1 :])
        case _EmptyKeys(key_line, key_indent):
            pad = " " * key_indent
            replaced = [f"{pad}api_keys:\n", f"{pad}  - {entry}\n"]
            return "".join(lines[:key_line] + replaced + lines[key_line + 1 :])
        case _Keys():
            added = [f"{' ' * where.item_indent}- {entry}\n"]
            return "".join(lines[: where.end] + added + lines[where.end :])
    return None


def _text_without_key(text: str, key_id: str) -> str | None:
    lines = _lines(text)
    where = _locate_keys(lines)
    if not isinstance(where, _Keys):
        return None
    removed = None
    for start, end in where.items:
        try:
            parsed = yaml.safe_load(textwrap.dedent("".join(lines[start:end])))
        except yaml.YAMLError:
            return None
        if (
            isinstance(parsed, list)
            and parsed
            and isinstance(parsed[0], dict)
            and (parsed[0].get("id") == key_id)
        ):
            removed = (start, end)
            break
    if removed is None:
        return None
    start, end = removed
    lines[start:end] = [""] * (end - start)
    if len(where.items) == 1:
        lines[where.key_line] = f"{' ' * where.key_indent}api_keys: []\n"
    return "".join(lines)


def _data(path: Path, text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise MerchantCommandError(f"{path}: (root): expected a mapping of settings")
    return data


@dataclass(frozen=True)
class Edit:
    text: str
    comments_kept: bool


def edited(path: Path, text: str, expected: dict[str, Any], candidate: str | None) -> Edit:
    """The line edit when it reads back as `expected`, else the data re-dumped; either way
    checked with the services' loader."""
    if candidate is not None:
        try:
            same = yaml.safe_load(candidate) == expected
        except yaml.YAMLError:
            same = False
        if same:
            checked(path, candidate)
            return Edit(candidate, comments_kept=True)
    dumped = yaml.safe_dump(expected, sort_keys=False, allow_unicode=True)
    checked(path, dumped)
    return Edit(dumped, comments_kept=False)


def new_key_id(taken: set[str], today: datetime) -> str:
    base = f"key-{today:%Y%m%d}"
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, 10_000) if f"{base}-{n}" not in taken)


@dataclass(frozen=True)
class AddedKey:
    path: Path
    key_id: str
    key: str
    comments_kept: bool


def add_key(
    directory: Path,
    merchant_id: str,
    *,
    key_id: str | None = None,
    key: str | None = None,
    today: datetime | None = None,
    scopes: Sequence[ApiScope] = (),
) -> AddedKey:
    """Generate a key (or take `key`, for tests), store its hash; return the key once."""
    path = merchant_file(directory, merchant_id)
    text = path.read_text(encoding="utf-8")
    config = load_merchant_file(path)
    taken = {existing.id for existing in config.tracking.api_keys}
    chosen_id = key_id or new_key_id(taken, today or datetime.now(UTC))
    if chosen_id in taken:
        raise MerchantCommandError(f"{path}: tracking.api_keys: a key {chosen_id!r} exists")
    secret = key or KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    try:
        entry = ApiKey(id=chosen_id, sha256=api_key_sha256(secret), scopes=tuple(scopes) or None)
    except ValidationError as error:
        reasons = "; ".join(problem["msg"] for problem in error.errors(include_input=False))
        raise MerchantCommandError(f"key id {chosen_id!r}: {reasons}") from None
    expected = _data(path, text)
    tracking = dict(expected.get("tracking") or {})
    added = entry.model_dump(mode="json", exclude_none=True)
    tracking["api_keys"] = [*(tracking.get("api_keys") or []), added]
    expected["tracking"] = tracking
    edit = edited(path, text, expected, _text_with_key(text, entry))
    write_atomically(path, edit.text)
    return AddedKey(path, chosen_id, secret, edit.comments_kept)


def revoke_key(directory: Path, merchant_id: str, key_id: str) -> Edit:
    path = merchant_file(directory, merchant_id)
    text = path.read_text(encoding="utf-8")
    config = load_merchant_file(path)
    if key_id not in {existing.id for existing in config.tracking.api_keys}:
        known = ", ".join(key.id for key in config.tracking.api_keys) or "none"
        raise MerchantCommandError(f"{path}: tracking.api_keys: no key {key_id!r} (keys: {known})")
    expected = _data(path, text)
    tracking = dict(expected["tracking"])
    tracking["api_keys"] = [entry for entry in tracking["api_keys"] if entry.get("id") != key_id]
    expected["tracking"] = tracking
    edit = edited(path, text, expected, _text_without_key(text, key_id))
    write_atomically(path, edit.text)
    return edit


# --- validate ----------------------------------------------------------------------------


def _secret_refs(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, SecretRef]]:
    """Every secret reference of a configuration, with its dotted field path."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        yield from _refs_in(value, f"{prefix}{name}")


def _refs_in(value: object, where: str) -> Iterator[tuple[str, SecretRef]]:
    if isinstance(value, SecretRef):
        yield where, value
    elif isinstance(value, BaseModel):
        yield from _secret_refs(value, f"{where}.")
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _refs_in(item, f"{where}.{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _refs_in(item, f"{where}.{key}")


def secret_problems(path: Path, config: MerchantConfig, environ: dict[str, str]) -> list[str]:
    """Each secret reference that does not resolve here (or has the wrong form)."""
    standard = config.actions is not None and config.actions.webhook.signature.standard
    problems = []
    for where, ref in _secret_refs(config):
        try:
            value = ref.resolve(environ)
            if standard and where.startswith("actions.webhook."):
                standard_webhook_key(value)
        except (LookupError, ValueError) as error:
            problems.append(f"{path}: {where}: {error}")
    return problems


def _one_per_line(path: Path, message: str) -> list[str]:
    """The loader's problems, one line each (a YAML parser's message spans several)."""
    problems: list[str] = []
    for line in message.splitlines():
        if line.startswith(f"{path}:") or not problems:
            problems.append(line)
        elif line.strip():
            problems[-1] += " " + line.strip()
    return problems


@dataclass(frozen=True)
class Validation:
    merchants: dict[str, MerchantConfig]
    problems: list[str]


def validate_directory(
    directory: Path, *, check_secrets: bool = False, environ: dict[str, str] | None = None
) -> Validation:
    """Every file through the services' loader, then what holds across files."""
    if not directory.is_dir():
        return Validation({}, [f"{directory}: not a directory of merchant configuration"])
    merchants: dict[str, MerchantConfig] = {}
    files: dict[str, Path] = {}
    problems: list[str] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            config = load_merchant_file(path)
        except MerchantConfigError as error:
            problems.extend(_one_per_line(path, str(error)))
            continue
        if config.merchant_id in files:
            problems.append(
                f"{path}: merchant_id: {config.merchant_id!r} is also configured in "
                f"{files[config.merchant_id].name}"
            )
            continue
        merchants[config.merchant_id] = config
        files[config.merchant_id] = path
        if check_secrets:
            problems.extend(secret_problems(path, config, dict(environ or os.environ)))
    try:
        ApiKeyRing.of(merchants)
    except ConfigurationError as error:
        problems.append(f"{directory}: {error}")
    return Validation(merchants, problems)


# --- show --------------------------------------------------------------------------------

REDACTED = "<redacted>"
_SECRET_NAMES = re.compile(r"(secret|password|token|credential)", re.IGNORECASE)


def redacted(config: MerchantConfig) -> dict[str, Any]:
    """The effective configuration (defaults included) as plain data, without secrets.

    Secret references (`{env: ...}`, `{file: ...}`) name where a secret is read, never
    its value, and are shown; API key hashes are shown by their first 8 characters.
    """
    data = config.model_dump(mode="json")
    for key in data.get("tracking", {}).get("api_keys", []):
        key["sha256"] = f"{key['sha256'][:8]}... {REDACTED}"
        if key.get("scopes") is None:
            key.pop("scopes", None)  # not declared: orders and insights
    scrubbed: dict[str, Any] = _scrub(data)
    return scrubbed


def _scrub(value: Any, name: str = "") -> Any:
    if isinstance(value, dict):
        if value and set(value) <= {"env", "file"}:
            return {key: item for key, item in value.items() if item is not None}
        return {key: _scrub(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, name) for item in value]
    if isinstance(value, str) and _SECRET_NAMES.search(name):
        return REDACTED
    return value


# --- commands ----------------------------------------------------------------------------


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command()
def new(
    merchant_id: MerchantArgument,
    directory: DirOption,
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (default: from the id).")
    ] = None,
    locale: Annotated[
        list[str] | None,
        typer.Option(
            "--locale", help="A language the merchant writes in (repeat; first = default)."
        ),
    ] = None,
    time_zone: Annotated[str, typer.Option("--time-zone", help="IANA time zone.")] = "Europe/Paris",
) -> None:
    """Write DIR/MERCHANT_ID.yaml, a minimal valid configuration (never overwrites)."""
    if not MERCHANT_ID.match(merchant_id):
        raise _fail(
            f"merchant id {merchant_id!r}: 2 to 63 characters, lower-case letters, digits, "
            "- and _, starting with a letter or digit"
        )
    try:
        path = create_merchant(
            directory,
            merchant_id,
            display_name=name,
            locales=tuple(locale or ("fr",)),
            time_zone=time_zone,
        )
    except (MerchantCommandError, MerchantConfigError) as error:
        raise _fail(str(error)) from None
    typer.echo(f"created {path}", err=True)
    typer.echo(f"next: relais merchant add-key {merchant_id} --dir {directory}", err=True)


@app.command("add-key")
def add_key_command(
    merchant_id: MerchantArgument,
    directory: DirOption,
    key_id: Annotated[
        str | None,
        typer.Option("--id", help="The key's name, for rotation and logs (default: key-<date>)."),
    ] = None,
    scope: Annotated[
        list[ApiScope] | None,
        typer.Option(
            "--scope",
            help="What the key opens (repeat): orders, insights, backoffice "
            "(default: orders and insights).",
        ),
    ] = None,
) -> None:
    """Generate an API key: print it once on stdout, store only its SHA-256."""
    try:
        scopes = tuple(dict.fromkeys(scope or ()))
        added = add_key(directory, merchant_id, key_id=key_id, scopes=scopes)
    except (MerchantCommandError, MerchantConfigError) as error:
        raise _fail(str(error)) from None
    typer.echo(added.key)
    typer.echo(
        f"added key {added.key_id!r} to {added.path} (SHA-256 only). The key above is shown "
        "this once: give it to the merchant now (Authorization: Bearer <key>). Restart the "
        "tracker to accept it.",
        err=True,
    )
    if not added.comments_kept:
        typer.echo(
            f"note: {added.path} was rewritten from its data: comments were not kept", err=True
        )


@app.command("revoke-key")
def revoke_key_command(
    merchant_id: MerchantArgument,
    key_id: Annotated[str, typer.Argument(help="The id of the key to remove.")],
    directory: DirOption,
) -> None:
    """Remove the key KEY_ID of MERCHANT_ID (refused from the tracker's next start)."""
    try:
        edit = revoke_key(directory, merchant_id, key_id)
    except (MerchantCommandError, MerchantConfigError) as error:
        raise _fail(str(error)) from None
    typer.echo(f"revoked key {key_id!r} of {merchant_id}; restart the tracker to refuse it")
    if not edit.comments_kept:
        typer.echo("note: the file was rewritten from its data: comments were not kept", err=True)


@app.command()
def validate(
    directory: Annotated[
        Path,
        typer.Argument(
            envvar="RELAIS_MERCHANTS_DIR",
            help="The merchant configuration directory (default: RELAIS_MERCHANTS_DIR).",
        ),
    ],
    check_secrets: Annotated[
        bool,
        typer.Option(
            "--secrets/--no-secrets",
            help="Also resolve every secret reference in this environment, as the services "
            "do at start-up.",
        ),
    ] = False,
) -> None:
    """Load DIR as the services do; print every problem (file: field: reason), exit 2 if any."""
    result = validate_directory(directory, check_secrets=check_secrets)
    for problem in result.problems:
        typer.echo(problem)
    if result.problems:
        raise _fail(f"{len(result.problems)} problem(s) in {directory}", PROBLEMS_EXIT)
    typer.echo(f"{len(result.merchants)} merchant(s) valid in {directory}")


@app.command()
def show(merchant_id: MerchantArgument, directory: DirOption) -> None:
    """Print MERCHANT_ID's effective configuration (defaults included), secrets redacted."""
    try:
        config = load_merchant_file(merchant_file(directory, merchant_id))
    except (MerchantCommandError, MerchantConfigError) as error:
        raise _fail(str(error)) from None
    typer.echo(yaml.safe_dump(redacted(config), sort_keys=False, allow_unicode=True), nl=False)
