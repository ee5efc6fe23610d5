"""The verification recipes of docs/webhooks.md, run as written against our own signature.

The Python snippet runs with this venv's interpreter, the Node one with `node`; both
get a body and header produced by the actions service's webhook adapter.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from relais_actions.adapters.webhook import Endpoint, signed_headers
from relais_actions.domain import delivery
from relais_actions.domain.policy import Execute, decide, source_of_resolution
from relais_cli.main import app
from relais_contracts.webhooks import SIGNATURE_HEADER
from tests.conftest import REPO_ROOT
from tests.unit.actions.factories import (
    actions_section,
    anomaly_detected,
    eur,
    merchant,
    resolution_chosen,
)

DOC = Path(REPO_ROOT) / "docs" / "webhooks.md"
SECRET = "whsec-test-only-" + "0123456789abcdef"

PYTHON_MAIN = """
import sys
print(verify_relais_signature(sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()))
"""
NODE_MAIN = """
const fs = require("node:fs");
const [secret, header, bodyFile] = process.argv.slice(2);
console.log(verifyRelaisSignature(secret, header, fs.readFileSync(bodyFile)));
"""


def snippet(name: str) -> str:
    match = re.search(rf"<!-- snippet: {name} -->\n```\w+\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/webhooks.md has no {name} snippet"
    return match.group(1)


def signed_body(*, at: int) -> tuple[bytes, str]:
    anomaly = anomaly_detected(merchant_id="shop-a", shipment_id="shp-doc", order_value=eur("9"))
    source = source_of_resolution(resolution_chosen(anomaly), shipment=anomaly.shipment)
    assert source is not None
    decision = decide(source, config=merchant("shop-a", actions=actions_section()).actions)
    assert isinstance(decision, Execute)
    body = delivery.webhook_request(decision.command).model_dump_json().encode()
    endpoint = Endpoint(url="https://shop.example", secrets=(SECRET.encode(),), timeout_s=5)
    headers = signed_headers(endpoint=endpoint, body=body, idempotency_key="k", timestamp=at)
    return body, headers[SIGNATURE_HEADER]


def run(interpreter: str, script: Path, code: str, *, secret: str, header: str, body: bytes) -> str:
    """Run the recipe as a script file: `<interpreter> script secret header body-file`."""
    script.write_text(code, encoding="utf-8")
    body_file = script.with_name("body.json")
    body_file.write_bytes(body)
    result = subprocess.run(
        [interpreter, str(script), secret, header, str(body_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


CASES = ("valid", "tampered body", "wrong secret", "replayed an hour later")


def case(name: str) -> tuple[str, str, bytes, str]:
    now = int(time.time())
    body, header = signed_body(at=now - 3600 if name == "replayed an hour later" else now)
    if name == "tampered body":
        body = body.replace(b'"attempt":1', b'"attempt":2')
    secret = "not-the-secret" if name == "wrong secret" else SECRET
    return secret, header, body, "valid" if name == "valid" else "invalid"


@pytest.mark.parametrize("name", CASES)
def test_the_python_recipe_verifies_our_signature(name: str, tmp_path: Path) -> None:
    secret, header, body, expected = case(name)
    code = snippet("python") + PYTHON_MAIN
    script = tmp_path / "verify.py"
    output = run(sys.executable, script, code, secret=secret, header=header, body=body)
    assert output == ("True" if expected == "valid" else "False")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("name", CASES)
def test_the_node_recipe_verifies_our_signature(name: str, tmp_path: Path) -> None:
    secret, header, body, expected = case(name)
    code = snippet("node") + NODE_MAIN
    output = run("node", tmp_path / "verify.js", code, secret=secret, header=header, body=body)
    assert output == ("true" if expected == "valid" else "false")


def test_the_cli_verifies_our_signature(tmp_path: Path) -> None:
    body, header = signed_body(at=int(time.time()))
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body)
    runner = CliRunner()
    good = runner.invoke(
        app, ["webhook", "verify", "--secret", SECRET, "--header", header, str(body_file)]
    )
    assert good.exit_code == 0, good.output
    assert "valid signature" in good.stdout
    bad = runner.invoke(
        app, ["webhook", "verify", "--secret", "other", "--header", header, str(body_file)]
    )
    assert bad.exit_code == 1
    assert "signature does not match" in bad.stderr
    signed = runner.invoke(app, ["webhook", "sign", "--secret", SECRET, str(body_file)])
    assert signed.exit_code == 0
    again = runner.invoke(
        app,
        [
            "webhook",
            "verify",
            "--secret",
            SECRET,
            "--header",
            signed.stdout.strip(),
            str(body_file),
        ],
    )
    assert again.exit_code == 0, again.output
