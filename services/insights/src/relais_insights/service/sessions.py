"""Dashboard sessions: what the sign-in cookie holds instead of the API key.

Rules:
- a session is a LinkSigner token of purpose `dashboard` (so no customer link opens a
  dashboard) whose merchant and subject are both the merchant it opens: a session of
  one merchant never opens another's dashboard;
- it expires after `max_age`, read on the service's clock; a token that is forged,
  expired, of another purpose or unreadable opens nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from relais_runtime.clock import Clock
from relais_runtime.links import LinkError, LinkPurpose, LinkSigner


@dataclass(frozen=True)
class DashboardSessions:
    signer: LinkSigner
    clock: Clock
    max_age: timedelta
    secure_cookies: bool
    """Mark the cookie Secure (behind HTTPS)."""

    def open(self, merchant_id: str) -> str:
        return self.signer.sign(
            merchant_id=merchant_id,
            purpose=LinkPurpose.DASHBOARD,
            subject=merchant_id,
            issued_at=self.clock.now(),
        )

    def opens(self, token: str, merchant_id: str) -> bool:
        try:
            claims = self.signer.verify(token, purpose=LinkPurpose.DASHBOARD, now=self.clock.now())
        except (LinkError, KeyError, ValueError):
            return False
        return claims.merchant_id == merchant_id == claims.subject
