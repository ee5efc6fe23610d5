"""The tracker's settings: the shared runtime settings plus its own."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from relais_contracts.topics.carrier_updates import MAX_PAYLOAD_CHARS
from relais_runtime.merchants.tracking import CarrierWebhookAuth
from relais_runtime.settings import RuntimeSettings


class TrackerSettings(RuntimeSettings):
    service_name: str = "tracker"
    http_port: int = Field(default=8001, ge=0, le=65535)

    carrier_webhooks: dict[str, CarrierWebhookAuth] = Field(
        default_factory=dict,
        description="Platform-level carrier webhook credentials by carrier code "
        "(RELAIS_CARRIER_WEBHOOKS as JSON); merchants may add their own in their "
        "`tracking` section.",
    )
    webhook_signature_tolerance_s: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="A carrier webhook whose signature carries a timestamp further than "
        "this from the tracker's clock is refused with 401 (replay protection).",
    )
    webhook_max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=MAX_PAYLOAD_CHARS * 3 // 4,
        description="Larger webhook bodies get 413; kept under the carrier-updates "
        "message limit even once base64-encoded.",
    )

    carrier_batch_max: int = Field(default=1000, ge=1, le=10_000)
    """Carrier updates handled per transaction by the batch consumer."""

    poll_base_url: HttpUrl | None = Field(
        default=None,
        description="Tracking API polled as GET <base>/<carrier>/<tracking number>; "
        "None disables polling.",
    )
    poll_carriers: tuple[str, ...] = ()
    """Carriers whose shipments are polled (those that only offer a pull API)."""
    poll_interval_s: float = Field(default=900.0, gt=0)
    """How often one shipment is polled at most."""
    poll_rate_per_s: float = Field(default=5.0, gt=0)
    poll_max_attempts: int = Field(default=4, ge=1, le=20)
    poll_backoff_initial_s: float = Field(default=0.5, gt=0)
    poll_backoff_max_s: float = Field(default=30.0, gt=0)
    poll_timeout_s: float = Field(default=10.0, gt=0)
    poll_batch: int = Field(default=200, ge=1, le=10_000)

    topic_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Registry topic name -> topic actually used (benchmarks, isolated "
        "test runs); empty in production.",
    )
