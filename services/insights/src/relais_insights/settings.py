"""The insights service's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from relais_runtime.settings import RuntimeSettings, SecretList


class InsightsSettings(RuntimeSettings):
    service_name: str = "insights"
    http_port: int = Field(default=8006, ge=0, le=65535)
    session_secrets: SecretList = Field(
        description="RELAIS_SESSION_SECRETS: sign the dashboard session cookie with the "
        "first, accept any (a secret of its own: no customer link can open a dashboard).",
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="How long a dashboard sign-in lasts."
    )
    secure_cookies: bool = Field(
        default=False,
        description="RELAIS_SECURE_COOKIES: mark the session cookie Secure (set it behind HTTPS).",
    )
    office_idle_minutes: float = Field(
        default=30,
        gt=0,
        le=24 * 60,
        description="A back-office session unused for this long ends (real time).",
    )
    office_session_hours: float = Field(
        default=12,
        gt=0,
        le=24 * 30,
        description="A back-office session ends this long after sign-in, used or not "
        "(real time). Its cookie is Secure unless RELAIS_ENVIRONMENT=development.",
    )
    metrics_refresh_s: float = Field(
        default=60, gt=0, description="How often the headline Prometheus gauges are recomputed."
    )
    metrics_window_days: int = Field(
        default=30, ge=1, le=366, description="The gauges cover the last N days."
    )
    notifier_url: HttpUrl | None = Field(
        default=None,
        description="The notifier's internal URL (the chart sets "
        "http://<release>-relais-notifier:8003): a campaign's preview renders one message "
        "there; unset, the preview shows the count and the merchant's own words only.",
    )
