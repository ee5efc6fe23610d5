"""FedEx Advanced Integrated Visibility (tracking webhook): the body FedEx POSTs to a
subscribed destination URL.

FedEx documents the pushed body through its Test Webhook schema (TestWebhookOutputVO,
https://developer.fedex.com/api/content/dam/fedex-com/irc/documentation/
TestWebhookOutputVO_VB3%203.json, and the "Test Webhook" page of
https://developer.fedex.com/api/en-us/catalog/shipment-visibility-webhook/docs.html):
`{transactionId, customerTransactionId?, outputMetaData: [{...push time and attempt}],
output: {completeTrackResults: [...]}}`, where each complete track result is the Track
API's (scan events, dates and times, delivery window). This module recognises that
envelope, and a JSON list of envelopes, and hands each `output` to the Track API reader
(fedex.py), so a pushed scan and a polled one mean the same.
"""

from __future__ import annotations

from typing import Any

from relais_tracker.adapters.carriers._common import as_object, field


def is_webhook(document: Any) -> bool:
    """A webhook envelope (`outputMetaData` beside `output`), or a list of them."""
    items = document if isinstance(document, list) else [document]
    return bool(items) and all(
        isinstance(item, dict) and "outputMetaData" in item and "output" in item for item in items
    )


def webhook_outputs(document: Any) -> list[dict[str, Any]]:
    """The `output` object of each envelope, in the order FedEx sent them."""
    items = document if isinstance(document, list) else [document]
    return [
        as_object(
            field(as_object(item, where=f"webhook[{index}]"), "output", where=f"webhook[{index}]"),
            where=f"webhook[{index}].output",
        )
        for index, item in enumerate(items)
    ]
