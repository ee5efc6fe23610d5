"""One secret per purpose, each a list for rotation (docs/security.md).

- a signer signs with the first secret of its list and accepts any: a link or a dashboard
  session signed with the old secret still opens while the old secret is second in the
  list, and stops opening once it is removed;
- settings refuse an empty or short secret at start-up, naming the variable; lists are
  read from the environment as a JSON list or comma-separated;
- RELAIS_ENVIRONMENT=production refuses a public URL that is not https.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from relais_chat.domain.access import Denied, Granted, Refusal, check_link, make_signer
from relais_chat.settings import ChatSettings
from relais_insights.service.sessions import DashboardSessions
from relais_insights.settings import InsightsSettings
from relais_notifier.settings import NotifierSettings
from relais_runtime.clock import ManualClock
from relais_runtime.links import LinkError, LinkPurpose, LinkSigner
from relais_runtime.merchants import load_merchants
from relais_runtime.settings import ConfigurationError, load_settings, secret_values
from tests.conftest import REPO_ROOT

OLD = "test-only-old-secret-0123456789abcdefghij"
NEW = "test-only-new-secret-0123456789abcdefghij"
PEPPER = "test-only-opt-out-pepper-0123456789abcdef"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)

SECRET_VARIABLES = (
    "RELAIS_CUSTOMER_LINK_SECRETS",
    "RELAIS_SESSION_SECRETS",
    "RELAIS_OPT_OUT_PEPPER",
    "RELAIS_OPT_OUT_PREVIOUS_PEPPERS",
    "RELAIS_ENVIRONMENT",
    "RELAIS_PUBLIC_CHAT_BASE_URL",
    "RELAIS_PUBLIC_NOTIFIER_BASE_URL",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def chat_token(secrets: list[str], *, purpose: LinkPurpose = LinkPurpose.CHAT) -> str:
    return LinkSigner(secrets=secrets, max_age=WEEK).sign(
        merchant_id="maison-lumiere", purpose=purpose, subject="anomaly-1", issued_at=NOW
    )


# --- rotation ---------------------------------------------------------------------


def test_a_link_signed_with_the_old_secret_opens_while_it_is_second_in_the_list() -> None:
    issued_before = chat_token([OLD])
    rotated = LinkSigner(secrets=[NEW, OLD], max_age=WEEK)
    assert rotated.verify(issued_before, purpose=LinkPurpose.CHAT, now=NOW).subject == "anomaly-1"

    issued_after = rotated.sign(
        merchant_id="maison-lumiere", purpose=LinkPurpose.CHAT, subject="anomaly-2", issued_at=NOW
    )
    # Signed with the first: a process still on the new secret alone reads it...
    new_only = LinkSigner(secrets=[NEW], max_age=WEEK)
    assert new_only.verify(issued_after, purpose=LinkPurpose.CHAT, now=NOW).subject == "anomaly-2"
    # ...and a process not yet given the new secret refuses it (so add before you sign).
    with pytest.raises(LinkError, match="not valid"):
        LinkSigner(secrets=[OLD], max_age=WEEK).verify(
            issued_after, purpose=LinkPurpose.CHAT, now=NOW
        )


def test_a_link_signed_with_a_removed_secret_is_refused() -> None:
    issued_before = chat_token([OLD])
    with pytest.raises(LinkError, match="not valid") as refused:
        LinkSigner(secrets=[NEW], max_age=WEEK).verify(
            issued_before, purpose=LinkPurpose.CHAT, now=NOW
        )
    assert not refused.value.expired


def test_the_chat_opens_old_links_during_a_rotation_and_refuses_them_after() -> None:
    merchants = dict(load_merchants(Path(REPO_ROOT) / "deploy" / "merchants"))
    token = chat_token([OLD])

    def check(secrets: list[str]) -> Granted | Denied:
        return check_link(
            signer=make_signer(secrets),
            token=token,
            purpose=LinkPurpose.CHAT,
            now=NOW,
            merchants=merchants,
        )

    assert isinstance(check([NEW, OLD]), Granted)
    refused = check([NEW])
    assert isinstance(refused, Denied)
    assert refused.reason is Refusal.INVALID


def test_a_dashboard_session_survives_a_rotation_until_its_secret_is_removed() -> None:
    clock = ManualClock(NOW)

    def sessions(secrets: list[str]) -> DashboardSessions:
        return DashboardSessions(
            signer=LinkSigner(secrets=secrets, max_age=timedelta(hours=12)),
            clock=clock,
            max_age=timedelta(hours=12),
            secure_cookies=True,
        )

    cookie = sessions([OLD]).open("maison-lumiere")
    assert sessions([NEW, OLD]).opens(cookie, "maison-lumiere")
    assert not sessions([NEW, OLD]).opens(cookie, "velocity-sports")
    assert not sessions([NEW]).opens(cookie, "maison-lumiere")
    assert sessions([NEW]).opens(sessions([NEW, OLD]).open("maison-lumiere"), "maison-lumiere")


def test_a_customer_link_never_opens_a_dashboard_with_its_own_secret() -> None:
    """Customer links and sessions have secrets of their own: even a dashboard-purpose
    token signed with the customer link secret opens nothing."""
    clock = ManualClock(NOW)
    dashboards = DashboardSessions(
        signer=LinkSigner(secrets=[NEW], max_age=timedelta(hours=12)),
        clock=clock,
        max_age=timedelta(hours=12),
        secure_cookies=True,
    )
    forged = LinkSigner(secrets=[OLD], max_age=WEEK).sign(
        merchant_id="maison-lumiere",
        purpose=LinkPurpose.DASHBOARD,
        subject="maison-lumiere",
        issued_at=NOW,
    )
    assert not dashboards.opens(forged, "maison-lumiere")


def test_a_signer_wants_a_list_of_long_secrets() -> None:
    with pytest.raises(ValueError, match="list of secrets"):
        LinkSigner(secrets=OLD, max_age=WEEK)
    with pytest.raises(ValueError, match="list of secrets"):
        LinkSigner(secrets=[], max_age=WEEK)
    with pytest.raises(ValueError, match="at least 32"):
        LinkSigner(secrets=[NEW, "short"], max_age=WEEK)


# --- settings -----------------------------------------------------------------------


def notifier(**overrides: Any) -> NotifierSettings:
    values: dict[str, Any] = {"customer_link_secrets": [NEW], "opt_out_pepper": PEPPER}
    return load_settings(NotifierSettings, **(values | overrides))


@pytest.mark.parametrize(
    ("settings_class", "field", "variable"),
    [
        (ChatSettings, "customer_link_secrets", "RELAIS_CUSTOMER_LINK_SECRETS"),
        (InsightsSettings, "session_secrets", "RELAIS_SESSION_SECRETS"),
        (NotifierSettings, "customer_link_secrets", "RELAIS_CUSTOMER_LINK_SECRETS"),
        (NotifierSettings, "opt_out_pepper", "RELAIS_OPT_OUT_PEPPER"),
    ],
)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "Field required"),
        ("", "(empty|no secret given)"),
        ("   ", "(empty|no secret given)"),
        ("too-short-0123456789", "shorter than 32 characters"),
    ],
)
def test_a_missing_empty_or_short_secret_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    settings_class: type[BaseSettings],
    field: str,
    variable: str,
    value: str | None,
    reason: str,
) -> None:
    needed = {
        "customer_link_secrets": "RELAIS_CUSTOMER_LINK_SECRETS",
        "session_secrets": "RELAIS_SESSION_SECRETS",
        "opt_out_pepper": "RELAIS_OPT_OUT_PEPPER",
    }
    for other, name in needed.items():
        if other != field and other in settings_class.model_fields:
            monkeypatch.setenv(name, NEW)
    if value is not None:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=rf"\({variable}\): .*{reason}") as error:
        load_settings(settings_class)
    assert "too-short" not in str(error.value)  # the value itself is never printed


def test_a_short_secret_anywhere_in_the_list_is_refused_by_its_position() -> None:
    with pytest.raises(ConfigurationError, match=r"secret 2 of 3 is shorter than 32"):
        notifier(customer_link_secrets=[NEW, "short", OLD])
    with pytest.raises(ConfigurationError, match=r"secret 2 of 2 is empty"):
        notifier(customer_link_secrets=f"{NEW},")
    with pytest.raises(ConfigurationError, match=r"secret 2 of 2 repeats secret 1"):
        notifier(customer_link_secrets=[NEW, NEW])
    with pytest.raises(ConfigurationError, match=r"RELAIS_OPT_OUT_PREVIOUS_PEPPERS.*shorter"):
        notifier(opt_out_previous_peppers=["short"])


@pytest.mark.parametrize(
    "value",
    [
        json.dumps([NEW, OLD]),
        f"{NEW},{OLD}",
        f" {NEW} , {OLD} ",
    ],
    ids=["json-list", "comma-separated", "comma-separated-with-spaces"],
)
def test_a_secret_list_is_read_as_json_or_comma_separated(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RELAIS_CUSTOMER_LINK_SECRETS", value)
    monkeypatch.setenv("RELAIS_SESSION_SECRETS", NEW)
    chat = load_settings(ChatSettings)
    assert secret_values(chat.customer_link_secrets) == (NEW, OLD)
    assert secret_values(load_settings(InsightsSettings).session_secrets) == (NEW,)
    assert NEW not in repr(chat)
    assert NEW not in str(chat.model_dump())


def test_a_bad_json_list_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_CUSTOMER_LINK_SECRETS", f'["{NEW}"')
    with pytest.raises(ConfigurationError, match=r"RELAIS_CUSTOMER_LINK_SECRETS.*JSON list"):
        load_settings(ChatSettings)


def test_previous_peppers_are_optional_and_a_blank_variable_means_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert notifier().opt_out_previous_peppers == ()
    monkeypatch.setenv("RELAIS_OPT_OUT_PREVIOUS_PEPPERS", "")
    assert notifier().opt_out_previous_peppers == ()
    monkeypatch.setenv("RELAIS_OPT_OUT_PREVIOUS_PEPPERS", f"{OLD}")
    assert secret_values(notifier().opt_out_previous_peppers) == (OLD,)


# --- public URLs ------------------------------------------------------------------------


def test_development_accepts_http_public_urls() -> None:
    settings = notifier()
    assert settings.environment == "development"
    assert str(settings.public_chat_base_url).startswith("http://")


def test_production_refuses_an_http_public_url_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError) as error:
        notifier(
            environment="production",
            public_chat_base_url="https://chat.relais.example",
            public_notifier_base_url="http://chat.relais.example",
        )
    message = str(error.value)
    assert "RELAIS_PUBLIC_NOTIFIER_BASE_URL is http://chat.relais.example" in message
    assert "RELAIS_PUBLIC_CHAT_BASE_URL" not in message
    assert "RELAIS_ENVIRONMENT=production" in message


def test_production_refuses_the_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError) as error:
        notifier()
    assert "RELAIS_PUBLIC_CHAT_BASE_URL is http://127.0.0.1:8004" in str(error.value)
    assert "RELAIS_PUBLIC_NOTIFIER_BASE_URL is http://127.0.0.1:8003" in str(error.value)


def test_production_starts_with_https_public_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_ENVIRONMENT", "production")
    monkeypatch.setenv("RELAIS_PUBLIC_CHAT_BASE_URL", "https://chat.relais.example")
    monkeypatch.setenv("RELAIS_PUBLIC_NOTIFIER_BASE_URL", "https://chat.relais.example/")
    assert notifier().environment == "production"
    monkeypatch.setenv("RELAIS_SESSION_SECRETS", NEW)
    assert load_settings(InsightsSettings).environment == "production"


def test_an_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_ENVIRONMENT", "staging")
    with pytest.raises(ConfigurationError, match=r"environment \(RELAIS_ENVIRONMENT\)"):
        notifier()
