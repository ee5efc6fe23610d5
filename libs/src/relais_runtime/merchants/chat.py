"""The chat section: which scenario answers which anomaly, how long links live, whom to call.

Rules:
- `scenarios` maps an anomaly type to a scenario id; a type not listed gets the
  default pack's scenario for it (`default/<anomaly type>`), so a merchant only
  writes the exceptions; the chat checks at start-up that every id exists and is
  meant for that anomaly type (the file and the node are named otherwise);
- `link_max_age_days` bounds how long a chat, tracking or survey link opens the
  page; an older link gets the "expired" page with the contact below;
- `contact` is what the customer sees when the chat cannot help (expired link,
  closed conversation); unset fields fall back to the branding's support contacts.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, HttpUrl

from relais_contracts.catalogue import AnomalyType
from relais_runtime.merchants.base import Section

SCENARIO_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?$"
ScenarioId = Annotated[str, Field(pattern=SCENARIO_ID_PATTERN, max_length=128)]


class ContactFallback(Section):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32)
    url: HttpUrl | None = None
    hours: str | None = Field(
        default=None, max_length=200, description="Opening hours, as shown to the customer."
    )


class ChatSection(Section):
    scenarios: dict[AnomalyType, ScenarioId] = Field(
        default_factory=dict,
        description="Anomaly type -> scenario id; unlisted types use default/<type>.",
    )
    survey_scenario: ScenarioId = "default/survey"
    link_max_age_days: int = Field(default=30, ge=1, le=365)
    contact: ContactFallback = ContactFallback()

    def scenario_for(self, anomaly_type: AnomalyType) -> str:
        return self.scenarios.get(anomaly_type, f"default/{anomaly_type.value}")
