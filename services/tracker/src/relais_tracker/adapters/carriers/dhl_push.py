"""DHL Shipment Tracking - Unified - Push: what DHL POSTs to a subscription's hook.

Source: developer.dhl.com "Shipment Tracking - Unified - Push" (v1.2.5, subscriptions by
tracking ID or customer account at https://api-eu.dhl.com/tracking/push/v1/subscription)
and its "Push API 101 for Externals" guide: a notification carries a `scope` and, for a
status update (`subscription.push`), the `shipments` list of the Unified API, each
shipment with its latest `status` event (and `events` when DHL sends them); the
subscription's life cycle is announced with messages of scopes such as
`subscription.validate`, `subscription.activate` or `subscription.ready`, which carry no
shipment. The shipments are read by the Unified API reader (dhl.py); a life-cycle message
has no tracking event (answering it, and activating the subscription with its secret, is
the webhook endpoint's business, not this mapper's).
"""

from __future__ import annotations

from typing import Any


def is_subscription_message(document: dict[str, Any]) -> bool:
    """A push message about the subscription itself: a `scope` and no `shipments`."""
    return isinstance(document.get("scope"), str) and "shipments" not in document
