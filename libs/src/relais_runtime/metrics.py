"""Every Prometheus metric of Relais, declared once (arroyo's metric_defs style).

Services import the metric objects from here; none creates its own ad hoc.
Label values are bounded (topics, event types, outcomes, reasons): never ids or
personal data.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BUILD_INFO = Gauge(
    "relais_build_info",
    "1 for the running service, labelled with its name and the Relais version it runs "
    "(relais_runtime.version).",
    ["version", "service"],
)
MESSAGES_CONSUMED = Counter(
    "relais_messages_consumed_total",
    "Messages taken from Kafka by a consumer, by outcome (processed, duplicate, dead_lettered, "
    "tombstone_applied, tombstone_skipped).",
    ["group", "topic", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "relais_handler_seconds",
    "Time spent handling one message, retries included.",
    ["group", "topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HANDLER_RETRIES = Counter(
    "relais_handler_retries_total",
    "Retries of a handler after a transient failure.",
    ["group", "topic"],
)
DEAD_LETTERS = Counter(
    "relais_dead_letters_total",
    "Messages sent to the dead-letter topic, by reason kind.",
    ["group", "topic", "kind"],
)
OUTBOX_PUBLISHED = Counter(
    "relais_outbox_published_total",
    "Outbox rows published to Kafka by the relay.",
    ["schema", "topic"],
)
RETENTION_DELETED = Counter(
    "relais_retention_deleted_total",
    "Rows of the runtime tables deleted by the retention pass (relais_runtime.retention).",
    ["table"],
)
OUTBOX_BACKLOG = Gauge(
    "relais_outbox_backlog",
    "Outbox rows waiting to be published, as seen by the last relay pass.",
    ["schema"],
)

# actions service
ACTIONS_DECIDED = Counter(
    "relais_actions_decided_total",
    "Actions decided by merchant policy, by action type and decision "
    "(execute, not_allowed, expired).",
    ["action", "decision"],
)
ACTION_WEBHOOK_CALLS = Counter(
    "relais_action_webhook_calls_total",
    "Attempts at a merchant action webhook, by outcome (http_2xx, http_4xx, http_5xx, "
    "timeout, connection_error, circuit_open: skipped without a call).",
    ["outcome"],
)
ACTION_WEBHOOK_SECONDS = Histogram(
    "relais_action_webhook_seconds",
    "Duration of one merchant action webhook call.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ACTION_RESULTS = Counter(
    "relais_action_results_total",
    "Actions ended, by action type and result (completed, or the failure reason).",
    ["action", "result"],
)

# tracker service
CONSUMER_BATCH_SIZE = Histogram(
    "relais_consumer_batch_size",
    "Messages per batch handled by a batch consumer.",
    ["group", "topic"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500),
)
CARRIER_WEBHOOKS = Counter(
    "relais_carrier_webhooks_total",
    "Carrier webhook calls, by carrier and outcome (accepted, unauthorized, too_large, "
    "malformed, unknown_carrier).",
    ["carrier", "outcome"],
)
CARRIER_POLLS = Counter(
    "relais_carrier_polls_total",
    "Tracking polls of a carrier API, by carrier and outcome (fetched, not_found, failed).",
    ["carrier", "outcome"],
)
TRACKING_EVENTS = Counter(
    "relais_tracking_events_total",
    "Normalized carrier events, by outcome (recorded, duplicate, held: waiting for their "
    "order, reconciled: recorded once their order arrived, expired: held too long, "
    "deleted).",
    ["outcome"],
)
ORDER_API_REQUESTS = Counter(
    "relais_order_api_requests_total",
    "Order API requests (the erasure API's too: operations erase, read_erasure), by "
    "operation and outcome (accepted, unauthorized, invalid, not_found, found).",
    ["operation", "outcome"],
)

# detector service
ANOMALY_DECISIONS = Counter(
    "relais_anomaly_decisions_total",
    "Detector decisions, by anomaly type or milestone and decision (detected, escalated, "
    "resolved, milestone).",
    ["kind", "decision"],
)
TIMERS_FIRED = Counter(
    "relais_timers_fired_total",
    "Durable timers fired by the sweeper, by outcome (evaluated, busy: shipment locked "
    "by a consumer or another sweeper, failed: postponed).",
    ["outcome"],
)
TIMER_SWEEP_SECONDS = Histogram(
    "relais_timer_sweep_seconds",
    "Duration of one timer sweep batch (claim, evaluate, write).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
TRACKER_UNKNOWN_CARRIER_CODES = Counter(
    "relais_tracker_unknown_carrier_codes_total",
    "Carrier events whose code no adapter table knows, mapped to the safe default "
    "(labelled by carrier only; the code itself is logged).",
    ["carrier"],
)
NOTIFICATION_OUTCOMES = Counter(
    "relais_notification_outcomes_total",
    "Notifier decisions published, by channel, outcome (sent, deferred, suppressed, failed) "
    "and reason.",
    ["channel", "outcome", "reason"],
)
NOTIFICATION_SEND_SECONDS = Histogram(
    "relais_notification_send_seconds",
    "Time to hand one message to the SMTP server or SMS provider, retries included.",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CHAT_PAGES = Counter(
    "relais_chat_pages_total",
    "Customer pages served by the chat, by page (chat, survey, tracking) and outcome "
    "(shown, answered, rejected, invalid, expired, not_found).",
    ["page", "outcome"],
)

# observability (consumer lag of every ReliableConsumer)
CONSUMER_LAG = Gauge(
    "relais_consumer_lag",
    "Messages behind, per partition this member owns: high watermark minus committed offset "
    "(refreshed every RELAIS_CONSUMER_LAG_INTERVAL_S).",
    ["group", "topic", "partition"],
)

# insights service (headline KPIs over the last RELAIS_METRICS_WINDOW_DAYS, per merchant,
# refreshed every RELAIS_METRICS_REFRESH_S; a KPI with nothing to measure is NaN)
INSIGHTS_FACTS = Counter(
    "relais_insights_facts_total",
    "Facts recorded by the insights service, by kind (anomaly_detected, notification_sent...).",
    ["kind"],
)
INSIGHTS_ANOMALY_SHARE = Gauge(
    "relais_insights_anomaly_share",
    "Share of the merchant's parcels with at least one anomaly (0 to 1).",
    ["merchant"],
)
INSIGHTS_TOLD_SHARE = Gauge(
    "relais_insights_told_share",
    "Share of anomalies the customer was told about by a message (0 to 1).",
    ["merchant"],
)
INSIGHTS_CSAT_AVERAGE = Gauge(
    "relais_insights_csat_average",
    "Average post-delivery satisfaction score (1 to 5).",
    ["merchant"],
)
INSIGHTS_VIEWS_PER_ORDER = Gauge(
    "relais_insights_tracking_views_per_order",
    "Tracking page views per order placed (where-is-my-order questions answered).",
    ["merchant"],
)
INSIGHTS_CONTACTS_AVOIDED = Gauge(
    "relais_insights_contacts_avoided",
    "Customer-service contacts avoided, from the merchant's stated savings model.",
    ["merchant"],
)
INSIGHTS_MONEY_SAVED = Gauge(
    "relais_insights_money_saved",
    "Money saved on customer-service contacts, in the merchant's currency (savings model).",
    ["merchant", "currency"],
)
REVIEW_OLDEST_WAITING = Gauge(
    "relais_review_oldest_waiting_seconds",
    "How long the oldest message held for the merchant's review has waited (0: none held).",
    ["merchant"],
)
REVIEW_OVER_LIMIT = Gauge(
    "relais_review_over_limit",
    "Messages held for review longer than the merchant's review_alert_after.",
    ["merchant"],
)

# supervision (relais_runtime.supervisor) and pauses on outages (relais_runtime.pipeline)
LOOP_RESTARTS = Counter(
    "relais_loop_restarts_total",
    "Background loops restarted by the supervisor after a crash or an early return.",
    ["service", "loop"],
)
LOOP_UP = Gauge(
    "relais_loop_up",
    "1 while a supervised background loop runs, 0 while it waits for its restart.",
    ["service", "loop"],
)
CONSUMER_PAUSED_SECONDS = Counter(
    "relais_consumer_paused_seconds_total",
    "Time a consumer spent paused because the infrastructure failed (never the message).",
    ["group", "topic"],
)

# erasure of a customer (relais_tracker.service.erasure)
ERASURES = Counter(
    "relais_erasures_total",
    "Customers erased by the tracker, by who asked (api, cli) and outcome (erased: orders "
    "or shipments were found; not_found: nothing left of that address). Every other "
    "service's part shows as relais_messages_consumed_total, outcome tombstone_applied.",
    ["source", "outcome"],
)
