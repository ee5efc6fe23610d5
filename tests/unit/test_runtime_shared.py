"""Merchant configuration loading, signed links and injected clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relais_runtime.clock import ManualClock, ScaledClock, clock_from_spec
from relais_runtime.links import LinkError, LinkPurpose, LinkSigner
from relais_runtime.merchants import MerchantConfigError, load_merchants
from relais_runtime.merchants.base import SecretRef

SECRET = "x" * 40
GOOD = """
merchant_id: maison-lumiere
branding:
  display_name: Maison Lumière
  bot_name: Lou
  tone: informal
  colors: {primary: "#7a1f5c"}
locales: [fr, en]
time_zone: Europe/Paris
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_directory_loads_every_merchant(tmp_path: Path) -> None:
    write(tmp_path, "maison-lumiere.yaml", GOOD)
    merchants = load_merchants(tmp_path)
    assert list(merchants) == ["maison-lumiere"]
    assert merchants["maison-lumiere"].branding.colors.primary == "#7a1f5c"
    assert merchants["maison-lumiere"].branding.colors.accent == "#f2a900"


def test_errors_name_the_file_the_field_and_the_reason(tmp_path: Path) -> None:
    write(tmp_path, "maison-lumiere.yaml", GOOD.replace('"#7a1f5c"', '"purple"'))
    write(tmp_path, "velo.yaml", GOOD.replace("maison-lumiere", "velo") + "colour: red\n")
    write(tmp_path, "broken.yaml", "merchant_id: [unclosed\n")
    with pytest.raises(MerchantConfigError) as caught:
        load_merchants(tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / 'maison-lumiere.yaml'}: branding.colors.primary: String should match" in (
        message
    )
    assert f"{tmp_path / 'velo.yaml'}: colour: Extra inputs are not permitted" in message
    assert f"{tmp_path / 'broken.yaml'}: not valid YAML" in message


def test_the_file_name_must_match_the_merchant(tmp_path: Path) -> None:
    write(tmp_path, "other.yaml", GOOD)
    with pytest.raises(MerchantConfigError, match=r"does not match the file name 'other\.yaml'"):
        load_merchants(tmp_path)


def test_reserved_ids_and_unknown_time_zones_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "unknown.yaml", GOOD.replace("maison-lumiere", "unknown"))
    write(tmp_path, "b2.yaml", GOOD.replace("maison-lumiere", "b2").replace("Paris", "Atlantis"))
    with pytest.raises(MerchantConfigError) as caught:
        load_merchants(tmp_path)
    assert "unknown.yaml: merchant_id: Value error, 'unknown' is reserved" in str(caught.value)
    assert "b2.yaml: time_zone: Value error, unknown IANA time zone" in str(caught.value)


def test_secret_references_resolve_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert SecretRef(env="HOOK_SECRET").resolve({"HOOK_SECRET": "s3"}) == "s3"
    with pytest.raises(LookupError, match="HOOK_SECRET is not set"):
        SecretRef(env="HOOK_SECRET").resolve({})
    secret_file = write(tmp_path, "secret", "from-a-volume\n")
    assert SecretRef(file=secret_file).resolve() == "from-a-volume"
    with pytest.raises(ValueError, match="exactly one of env or file"):
        SecretRef()


def test_a_signed_link_verifies_for_its_purpose_until_it_expires() -> None:
    signer = LinkSigner(secrets=[SECRET], max_age=timedelta(days=7))
    issued = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    token = signer.sign(
        merchant_id="acme", purpose=LinkPurpose.CHAT, subject="anomaly-1", issued_at=issued
    )
    claims = signer.verify(token, purpose=LinkPurpose.CHAT, now=issued + timedelta(days=6))
    assert (claims.merchant_id, claims.subject) == ("acme", "anomaly-1")
    with pytest.raises(LinkError) as expired:
        signer.verify(token, purpose=LinkPurpose.CHAT, now=issued + timedelta(days=8))
    assert expired.value.expired
    with pytest.raises(LinkError, match="not meant for this page"):
        signer.verify(token, purpose=LinkPurpose.TRACKING, now=issued)


def test_a_tampered_or_foreign_link_is_refused() -> None:
    signer = LinkSigner(secrets=[SECRET], max_age=timedelta(days=7))
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    token = signer.sign(merchant_id="acme", purpose=LinkPurpose.CHAT, subject="a", issued_at=now)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(LinkError, match="not valid") as forged:
        signer.verify(tampered, purpose=LinkPurpose.CHAT, now=now)
    assert not forged.value.expired
    other = LinkSigner(secrets=["y" * 40], max_age=timedelta(days=7))
    with pytest.raises(LinkError, match="not valid"):
        other.verify(token, purpose=LinkPurpose.CHAT, now=now)


def test_clocks() -> None:
    manual = ManualClock()
    start = manual.now()
    assert manual.advance(timedelta(hours=5)) == start + timedelta(hours=5)
    real = datetime.now(UTC)
    scaled = clock_from_spec(f"scaled:{real.isoformat()}|2026-11-02T08:00:00+00:00|3600")
    assert isinstance(scaled, ScaledClock)
    assert scaled.now() >= datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown clock"):
        clock_from_spec("sundial")


def test_the_shipped_demo_merchants_are_valid() -> None:
    merchants = load_merchants(Path(__file__).parents[2] / "deploy" / "merchants")
    assert {"maison-lumiere", "velocity-sports"} <= set(merchants)
