"""SMS through an HTTP provider. One real API shape: Twilio Programmable Messaging.

Twilio: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form fields
`To`, `From`, `Body`, HTTP basic auth (Account SID, Auth Token); `201` with a JSON
body holding `sid` and `num_segments`; errors are JSON `{code, message, status}`.
Error codes that name the recipient (21211 invalid number, 21614 not a mobile
number, 21610 the recipient replied STOP) are permanent; other 4xx are permanent
rejections, except 401/403 (our credentials: transient, configuration) and 429;
5xx and transport errors are transient.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from relais_contracts.topics.notifications import FailureReason
from relais_notifier.adapters.channels import ChannelError, Receipt

RECIPIENT_ERRORS = frozenset({21211, 21614, 21610, 21612})


class SmsSender(Protocol):
    provider: str

    async def send(self, *, to: str, sender: str, body: str) -> Receipt:
        """Hand one SMS to the provider; raises ChannelError."""
        ...


class TwilioSms:
    provider = "twilio"

    def __init__(
        self, *, client: httpx.AsyncClient, base_url: str, account_sid: str, auth_token: str
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = httpx.BasicAuth(account_sid, auth_token)

    async def send(self, *, to: str, sender: str, body: str) -> Receipt:
        try:
            response = await self._client.post(
                self._url, data={"To": to, "From": sender, "Body": body}, auth=self._auth
            )
        except httpx.HTTPError as error:
            raise ChannelError(
                f"SMS provider unreachable: {type(error).__name__}",
                transient=True,
                reason=FailureReason.RETRIES_EXHAUSTED,
                unreachable=isinstance(error, httpx.TransportError),
            ) from None
        if response.status_code in (200, 201):
            payload = response.json()
            segments = payload.get("num_segments")
            return Receipt(
                provider=self.provider,
                message_id=str(payload.get("sid")) if payload.get("sid") else None,
                segments=int(segments) if segments else None,
            )
        raise _error(response)


def _error(response: httpx.Response) -> ChannelError:
    status = response.status_code
    try:
        payload = response.json()
        code = int(payload.get("code") or 0)
    except (ValueError, TypeError, AttributeError):
        code = 0
    detail = f"HTTP {status}" + (f" code {code}" if code else "")
    if status in (401, 403):
        return ChannelError(
            detail, transient=True, reason=FailureReason.CONFIGURATION_ERROR, status=detail
        )
    if status == 429 or status >= 500:
        return ChannelError(
            detail, transient=True, reason=FailureReason.RETRIES_EXHAUSTED, status=detail
        )
    if code in RECIPIENT_ERRORS:
        return ChannelError(
            detail, transient=False, reason=FailureReason.INVALID_RECIPIENT, status=detail
        )
    return ChannelError(
        detail, transient=False, reason=FailureReason.REJECTED_BY_PROVIDER, status=detail
    )
