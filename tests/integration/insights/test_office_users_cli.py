"""`relais merchant user ...` on real PostgreSQL: the password is printed once on stdout
alone (or read from stdin), a second user with the same email is refused, set-role and
reset-password change the row and are audited, remove erases the person, and the demo's
admins get a fresh password each run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from relais_cli.main import app
from relais_cli.office_users_cmd import demo_email, ensure_demo_users
from tests.conftest import Infrastructure, drop_schemas

pytestmark = pytest.mark.integration


@pytest.fixture
def schema(infrastructure: Infrastructure, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("RELAIS_DATABASE_URL", infrastructure.database_url)
    name = f"test_office_cli_{uuid.uuid4().hex[:8]}"
    yield name
    asyncio.run(drop_schemas(infrastructure.database_url, [name]))


def relais(schema: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["merchant", "user", *args, "--schema", schema], input=stdin
    )
    return result.exit_code, result.stdout, result.stderr


def rows(infrastructure: Infrastructure, schema: str, sql: str) -> list[Any]:
    async def read() -> list[Any]:
        connection = await asyncpg.connect(
            infrastructure.database_url, server_settings={"search_path": schema}
        )
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    return asyncio.run(read())


def test_user_commands_write_the_insights_schema(
    infrastructure: Infrastructure, schema: str
) -> None:
    code, out, err = relais(
        schema, "add", "shop", "Ann@Shop.example", "--name", "Ann", "--role", "admin"
    )
    assert code == 0, err
    password = out.strip()
    assert len(password) == 16
    assert password not in err
    hashed = rows(infrastructure, schema, "SELECT email, role, password_hash FROM office_users")
    assert hashed[0][:2] == ("ann@shop.example", "admin")
    assert hashed[0][2].startswith("$argon2id$")
    assert PasswordHasher().verify(hashed[0][2], password)

    code, _, err = relais(schema, "add", "shop", "ann@shop.example", "--name", "Ann again")
    assert code == 1
    assert "already has a user" in err

    code, out, _ = relais(
        schema,
        "add",
        "shop",
        "bob@shop.example",
        "--name",
        "Bob",
        "--password-stdin",
        stdin="a-password-from-stdin\n",
    )
    assert code == 0
    assert out == ""
    code, _, err = relais(
        schema,
        "add",
        "shop",
        "eve@shop.example",
        "--name",
        "E",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 2
    assert "12 characters" in err

    assert relais(schema, "set-role", "shop", "BOB@shop.example", "viewer")[0] == 0
    assert relais(schema, "set-role", "shop", "bob@shop.example", "owner")[0] == 2
    code, out, _ = relais(schema, "reset-password", "shop", "bob@shop.example")
    assert code == 0
    assert len(out.strip()) == 16
    assert relais(schema, "remove", "shop", "bob@shop.example")[0] == 0
    assert relais(schema, "remove", "shop", "bob@shop.example")[0] == 1

    code, out, _ = relais(schema, "list", "shop")
    assert code == 0
    assert "ann@shop.example" in out
    assert "bob@shop.example" not in out
    erased = rows(
        infrastructure,
        schema,
        "SELECT email, display_name, password_hash FROM office_users WHERE erased_at IS NOT NULL",
    )
    assert erased == [(None, "", None)]
    audit = rows(
        infrastructure,
        schema,
        "SELECT action, user_id, details::text FROM office_audit ORDER BY audit_id",
    )
    assert [row[0] for row in audit] == [
        "user.add",
        "user.add",
        "user.set_role",
        "user.reset_password",
        "user.remove",
    ]
    assert all(row[1] is None for row in audit)
    assert not any("@" in row[2] for row in audit)


def test_the_demo_admins_get_a_fresh_password_each_run(
    infrastructure: Infrastructure, schema: str
) -> None:
    first = ensure_demo_users(["shop-a", "shop-b"], schema=schema)
    second = ensure_demo_users(["shop-a", "shop-b"], schema=schema)
    assert first.keys() == second.keys() == {"shop-a", "shop-b"}
    assert first["shop-a"] != second["shop-a"]
    users = rows(
        infrastructure,
        schema,
        "SELECT merchant_id, email, role, password_hash FROM office_users ORDER BY 1",
    )
    assert [row[:3] for row in users] == [
        ("shop-a", demo_email("shop-a"), "admin"),
        ("shop-b", demo_email("shop-b"), "admin"),
    ]
    assert PasswordHasher().verify(users[0][3], second["shop-a"])
