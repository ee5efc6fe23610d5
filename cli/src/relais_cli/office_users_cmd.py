"""`relais merchant user`: the people of a merchant's back office (add, list, set-role,
reset-password, remove), written to the insights schema through RELAIS_DATABASE_URL (or
DATABASE_URL), the way the insights service writes them.

Rules:
- a password is generated (a one-time password, printed once on stdout alone so that
  `PASSWORD=$(relais merchant user add ...)` works) or read from stdin with
  `--password-stdin`; it is never logged, never an argument (shell history);
- the schema is migrated first (as the service does at start), so users can be added
  before the insights service ever ran;
- `remove` erases the person (email and name) and ends their sessions; the bare user id
  stays for the audit log; every change is audited as done by the command line;
- a merchant that the configuration directory (`--dir`, RELAIS_MERCHANTS_DIR) does not
  know is refused when the directory is given.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from relais_runtime.clock import SystemClock
from relais_runtime.settings import ConfigurationError, RuntimeSettings, load_settings

if TYPE_CHECKING:
    from relais_insights.domain.office import Role
    from relais_insights.office_repository import UserRow

app = typer.Typer(
    help="The people of a merchant's back office: add, list, set-role, reset-password, remove.",
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True, highlight=False)

INSIGHTS_SCHEMA = "insights"
"""The insights service's PostgreSQL schema (relais_insights.service.rebuild.SCHEMA)."""

T = TypeVar("T")

MerchantArgument = Annotated[str, typer.Argument(help="The merchant id.")]
EmailArgument = Annotated[str, typer.Argument(help="The user's email (case does not matter).")]
RoleOption = Annotated[
    str, typer.Option("--role", help="viewer (reads), agent (acts on orders), admin (people).")
]
StdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from stdin instead of generating one."
    ),
]
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        envvar="RELAIS_MERCHANTS_DIR",
        help="The merchant configuration directory: refuse a merchant it does not hold.",
        file_okay=False,
    ),
]
SchemaOption = Annotated[str, typer.Option("--schema", hidden=True)]


def on_insights(schema: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`work` on a connection to the migrated insights schema; a database that cannot be
    reached exits 1 with one line saying so."""
    try:
        settings = load_settings(RuntimeSettings)
    except ConfigurationError as error:
        err.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None

    async def run() -> T:
        from relais_insights.bootstrap import MIGRATIONS_DIR
        from relais_runtime.migrations import migrate

        await migrate(
            database_url=settings.database_url, schema=schema, versions_dir=MIGRATIONS_DIR
        )
        connection = await asyncpg.connect(
            settings.database_url, server_settings={"search_path": schema}
        )
        try:
            return await work(connection)
        finally:
            await connection.close()

    try:
        return asyncio.run(run())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        err.print(f"[red]cannot reach the insights database: {type(error).__name__}[/]")
        raise typer.Exit(1) from None


def _known_merchant(directory: Path | None, merchant_id: str) -> None:
    if directory is None:
        return
    if not any((directory / f"{merchant_id}{suffix}").is_file() for suffix in (".yaml", ".yml")):
        err.print(f"[red]{directory}: no configuration for merchant {merchant_id!r}[/]")
        raise typer.Exit(1)


def _role(value: str) -> Role:
    from relais_insights.domain.office import Role

    try:
        return Role(value)
    except ValueError:
        err.print(f"[red]--role: {value!r} is not one of viewer, agent, admin[/]")
        raise typer.Exit(2) from None


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password and whether it was generated (then it is printed once)."""
    from relais_insights.service.office_users import new_password, password_problem

    if not from_stdin:
        return new_password(), True
    password = sys.stdin.readline().rstrip("\r\n")
    problem = password_problem(password)
    if problem:
        err.print(f"[red]password from stdin: {problem}[/]")
        raise typer.Exit(2)
    return password, False


async def _user(connection: asyncpg.Connection, merchant_id: str, email: str) -> UserRow:
    from relais_insights import office_repository as store

    found = await store.user_by_email(connection, merchant_id, email.strip())
    if found is None:
        err.print(f"[red]merchant {merchant_id!r} has no user with that email[/]")
        raise typer.Exit(1)
    return found[0]


@app.command("add")
def add_command(
    merchant_id: MerchantArgument,
    email: EmailArgument,
    name: Annotated[str, typer.Option("--name", help="The name shown in the office.")],
    role: RoleOption = "agent",
    language: Annotated[str, typer.Option("--language", help="fr or en.")] = "fr",
    password_stdin: StdinOption = False,
    directory: DirOption = None,
    schema: SchemaOption = INSIGHTS_SCHEMA,
) -> None:
    """Add a user; print the one-time password once on stdout (unless --password-stdin)."""
    from argon2 import PasswordHasher

    from relais_insights.service import office_users

    _known_merchant(directory, merchant_id)
    chosen = _role(role)
    if language not in ("fr", "en") or "@" not in email:
        err.print("[red]--language is fr or en, and EMAIL needs an @[/]")
        raise typer.Exit(2)
    password, generated = _password(password_stdin)

    async def add(connection: asyncpg.Connection) -> object:
        now = SystemClock().now()
        user_id = await office_users.add_user(
            connection,
            PasswordHasher(),
            merchant_id=merchant_id,
            email=email,
            display_name=name,
            role=chosen,
            language=language,
            password=password,
            at=now,
        )
        if user_id is not None:
            await office_users.record_audit(
                connection,
                None,
                "user.add",
                str(user_id),
                {"role": chosen.value},
                merchant_id=merchant_id,
                at=now,
            )
        return user_id

    if on_insights(schema, add) is None:
        err.print(f"[red]merchant {merchant_id!r} already has a user with that email[/]")
        raise typer.Exit(1)
    if generated:
        typer.echo(password)
    err.print(f"added {chosen.value} to {merchant_id}; sign-in page: /office/{merchant_id}/login")


@app.command("list")
def list_command(merchant_id: MerchantArgument, schema: SchemaOption = INSIGHTS_SCHEMA) -> None:
    """The merchant's users: email, name, role, status, created."""
    from relais_insights import office_repository as store

    users = on_insights(schema, lambda connection: store.users_of(connection, merchant_id))
    table = Table(title=f"Back-office users of {merchant_id} ({len(users)})")
    for column in ("email", "name", "role", "status", "created (UTC)", "user id"):
        table.add_column(column)
    for user in users:
        status = "active" if user.active else "disabled"
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(
            user.email or "", user.display_name, user.role, status, created, str(user.user_id)
        )
    Console().print(table)


@app.command("set-role")
def set_role_command(
    merchant_id: MerchantArgument,
    email: EmailArgument,
    role: Annotated[str, typer.Argument(help="viewer, agent or admin.")],
    schema: SchemaOption = INSIGHTS_SCHEMA,
) -> None:
    """Change a user's role (takes effect on their next request)."""
    from relais_insights import office_repository as store
    from relais_insights.service import office_users

    chosen = _role(role)

    async def change(connection: asyncpg.Connection) -> None:
        user = await _user(connection, merchant_id, email)
        await store.set_role(connection, merchant_id, user.user_id, chosen)
        await office_users.record_audit(
            connection,
            None,
            "user.set_role",
            str(user.user_id),
            {"role": chosen.value},
            merchant_id=merchant_id,
        )

    on_insights(schema, change)
    err.print(f"role set to {chosen.value}")


@app.command("reset-password")
def reset_password_command(
    merchant_id: MerchantArgument,
    email: EmailArgument,
    password_stdin: StdinOption = False,
    schema: SchemaOption = INSIGHTS_SCHEMA,
) -> None:
    """Set a new password (printed once unless --password-stdin) and end every session."""
    from argon2 import PasswordHasher

    from relais_insights.service import office_users

    password, generated = _password(password_stdin)

    async def reset(connection: asyncpg.Connection) -> None:
        user = await _user(connection, merchant_id, email)
        now = SystemClock().now()
        await office_users.reset_password(
            connection,
            PasswordHasher(),
            merchant_id=merchant_id,
            user_id=user.user_id,
            password=password,
            at=now,
        )
        await office_users.record_audit(
            connection,
            None,
            "user.reset_password",
            str(user.user_id),
            merchant_id=merchant_id,
            at=now,
        )

    on_insights(schema, reset)
    if generated:
        typer.echo(password)
    err.print("password reset; the user's sessions are ended")


@app.command("remove")
def remove_command(
    merchant_id: MerchantArgument, email: EmailArgument, schema: SchemaOption = INSIGHTS_SCHEMA
) -> None:
    """Remove a user: erase their email and name, end their sessions (the audit log keeps
    the bare user id)."""
    from relais_insights.service import office_users

    async def remove(connection: asyncpg.Connection) -> None:
        user = await _user(connection, merchant_id, email)
        now = SystemClock().now()
        await office_users.remove_user(
            connection, merchant_id=merchant_id, user_id=user.user_id, at=now
        )
        await office_users.record_audit(
            connection, None, "user.remove", str(user.user_id), merchant_id=merchant_id, at=now
        )

    on_insights(schema, remove)
    err.print("user removed (email and name erased, sessions ended)")


def demo_email(merchant_id: str) -> str:
    return f"admin@{merchant_id}.example"


def ensure_demo_users(merchant_ids: list[str], schema: str = INSIGHTS_SCHEMA) -> dict[str, str]:
    """An admin per demo merchant with a fresh password for this run (added, or its
    password reset when an earlier run added it): merchant id -> password."""
    from argon2 import PasswordHasher

    from relais_insights import office_repository as store
    from relais_insights.domain.office import Role
    from relais_insights.service import office_users

    passwords = {merchant_id: office_users.new_password() for merchant_id in merchant_ids}
    hasher = PasswordHasher()

    async def ensure(connection: asyncpg.Connection) -> None:
        now = SystemClock().now()
        for merchant_id, password in passwords.items():
            email = demo_email(merchant_id)
            found = await store.user_by_email(connection, merchant_id, email)
            if found is None:
                await office_users.add_user(
                    connection,
                    hasher,
                    merchant_id=merchant_id,
                    email=email,
                    display_name="Demo admin",
                    role=Role.ADMIN,
                    language="fr",
                    password=password,
                    at=now,
                )
                continue
            user = found[0]
            await office_users.reset_password(
                connection,
                hasher,
                merchant_id=merchant_id,
                user_id=user.user_id,
                password=password,
                at=now,
            )
            if not user.active or user.role != Role.ADMIN:
                await connection.execute(
                    "UPDATE office_users SET disabled_at = NULL, role = 'admin'"
                    " WHERE merchant_id = $1 AND user_id = $2",
                    merchant_id,
                    user.user_id,
                )

    on_insights(schema, ensure)
    return passwords
