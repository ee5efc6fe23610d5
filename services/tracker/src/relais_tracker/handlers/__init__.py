"""Where messages and requests enter the tracker: decode, call the application
(relais_tracker.service), publish; no setup (relais_tracker.bootstrap wires them).

- consumers: the orders and carrier-updates consumers;
- orders_api: the merchant order API (`/v1/orders`);
- webhooks: the carrier webhooks (`/webhooks/carriers/{carrier}`).
"""

from relais_tracker.handlers.consumers import (
    CarrierUpdateConsumer,
    OrderConsumer,
    normalize,
    prepare_carrier_update,
)
from relais_tracker.handlers.orders_api import OrderApi, orders_router
from relais_tracker.handlers.webhooks import WebhookIntake, webhooks_router

__all__ = [
    "CarrierUpdateConsumer",
    "OrderApi",
    "OrderConsumer",
    "WebhookIntake",
    "normalize",
    "orders_router",
    "prepare_carrier_update",
    "webhooks_router",
]
