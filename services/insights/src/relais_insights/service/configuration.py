"""What the insights application runs with: built once at start (bootstrap.configure),
never changed after."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from relais_insights.domain.order_filters import CursorCodec, random_cursor_codec
from relais_insights.service.office_users import OfficePolicy
from relais_insights.service.sessions import DashboardSessions
from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.clock import Clock
from relais_runtime.merchants import MerchantConfig


@dataclass(frozen=True)
class InsightsConfiguration:
    merchants: Mapping[str, MerchantConfig]
    keys: ApiKeyRing
    sessions: DashboardSessions
    clock: Clock
    metrics_refresh_s: float
    """How often the headline gauges are recomputed."""
    metrics_window_days: int
    """The gauges cover the last N days."""
    office: OfficePolicy = field(default_factory=OfficePolicy)
    """The back office's sessions and sign-in throttling."""
    cursors: CursorCodec = field(default_factory=random_cursor_codec)
    notifier_url: str | None = None
    """Where a campaign's preview is rendered (RELAIS_NOTIFIER_URL); None: not rendered."""
    """Signs the orders list's page cursors (bootstrap: with RELAIS_SESSION_SECRETS)."""
