"""The actions service's setup: its configuration read once, its consumers wired.

Start-up fails with ConfigurationError, naming the file, the field and the reason,
when the merchant configuration is invalid or a webhook secret cannot be resolved.

Subscriptions (consumer groups under the runtime's prefix):
- actions.conversations: ResolutionChosen and CallbackRequested -> policy -> an
  ExecuteAction on the command topic, or a refusal on the results topic;
- actions.anomalies: keeps the shipment snapshots the chat's events do not carry,
  records resolutions (they expire pending actions) and runs automatic actions;
- actions.executor: the command topic, attempt 1. It never sleeps: a slow merchant
  costs at most its webhook timeout, then its command moves to a retry tier (and an
  open circuit moves it without calling);
- actions.retry-*: one per retry tier, each command handled once its `not_before` has
  passed on the service's clock (the runtime pauses a tier's partition until then);
- actions.shipment-state: tombstones only (an erased customer's shipment): its actions
  are anonymised and its outbox rows deleted; the states themselves are ignored.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from relais_actions.adapters.webhook import Endpoint
from relais_actions.domain.breaker import BreakerBoard
from relais_actions.handlers import CommandConsumer, DecisionConsumer, ErasureConsumer, due_time
from relais_actions.service import Decisions, Executor, WebhookCaller
from relais_actions.settings import ActionsSettings
from relais_contracts.registry import Topic
from relais_contracts.topics import action_commands, anomalies, conversations, shipment_state
from relais_runtime.clock import Clock, SystemClock
from relais_runtime.consumer import Subscription
from relais_runtime.merchants import MerchantConfig, merchants_of
from relais_runtime.merchants.actions import standard_webhook_key
from relais_runtime.service import Dependencies, ServiceSpec, Wiring
from relais_runtime.settings import ConfigurationError

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"

CONVERSATIONS_GROUP = "actions.conversations"
ANOMALIES_GROUP = "actions.anomalies"
EXECUTOR_GROUP = "actions.executor"
SHIPMENT_STATE_GROUP = "actions.shipment-state"


@dataclass(frozen=True)
class ActionsConfiguration:
    """What the service is given at start, validated: no merchant without its secrets."""

    settings: ActionsSettings
    merchants: Mapping[str, MerchantConfig]
    endpoints: Mapping[str, Endpoint]
    clock: Clock
    rng: random.Random
    wall_clock: Clock = field(default_factory=SystemClock)
    """Real time, for webhook signatures, whatever `clock` is (a scaled demo clock)."""


def configure(
    settings: ActionsSettings,
    *,
    merchants: Mapping[str, MerchantConfig] | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> ActionsConfiguration:
    """Reads the merchants and their webhook secrets; tests pass their own of each."""
    configs = merchants_of(settings.merchants_dir) if merchants is None else merchants
    return ActionsConfiguration(
        settings=settings,
        merchants=configs,
        endpoints=resolve_endpoints(configs, directory=settings.merchants_dir, environ=environ),
        clock=clock or settings.build_clock(),
        rng=rng or random.Random(),
    )


def resolve_endpoints(
    merchants: Mapping[str, MerchantConfig],
    *,
    directory: Path | None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Endpoint]:
    """Each merchant's webhook with its secrets read; ConfigurationError if one is missing."""
    env = dict(os.environ if environ is None else environ)
    endpoints: dict[str, Endpoint] = {}
    problems: list[str] = []
    for merchant_id, config in merchants.items():
        if config.actions is None:
            continue
        webhook = config.actions.webhook
        refs = {"secret": webhook.secret} | {
            f"previous_secrets.{index}": ref for index, ref in enumerate(webhook.previous_secrets)
        }
        secrets: list[bytes] = []
        for name, ref in refs.items():
            try:
                value = ref.resolve(env)
                if webhook.signature.standard:
                    standard_webhook_key(value)
                secrets.append(value.encode())
            except (LookupError, ValueError) as error:
                where = directory / f"{merchant_id}.yaml" if directory else merchant_id
                problems.append(f"{where}: actions.webhook.{name}: {error}")
        endpoints[merchant_id] = Endpoint(
            url=str(webhook.url),
            secrets=tuple(secrets),
            timeout_s=webhook.timeout_s,
            signature=webhook.signature,
        )
    if problems:
        raise ConfigurationError("\n".join(problems))
    return endpoints


def build_spec(
    configuration: ActionsConfiguration | None = None,
    *,
    settings: ActionsSettings | None = None,
    http: httpx.AsyncClient | None = None,
    merchants: Mapping[str, MerchantConfig] | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> ServiceSpec[ActionsSettings]:
    """The actions service; tests pass their own settings, HTTP client, merchants, clock.

    Given `settings`, the configuration is read here, so a bad one fails before anything
    starts; given neither it nor `configuration`, it is read once from the settings the
    service starts with. The overrides apply to a configuration read here. An HTTP
    client passed in is the caller's to close; otherwise the service makes its own and
    closes it at stop.
    """
    if configuration is None and settings is not None:
        configuration = configure(
            settings, merchants=merchants, clock=clock, environ=environ, rng=rng
        )

    def wire_service(dependencies: Dependencies[ActionsSettings]) -> Wiring:
        if configuration is not None:
            return wire(dependencies, configuration=configuration, http=http)
        read = configure(
            dependencies.settings, merchants=merchants, clock=clock, environ=environ, rng=rng
        )
        return wire(dependencies, configuration=read, http=http)

    return ServiceSpec(
        name="actions", schema="actions", migrations_dir=MIGRATIONS_DIR, wire=wire_service
    )


def wire(
    dependencies: Dependencies[ActionsSettings],
    *,
    configuration: ActionsConfiguration,
    http: httpx.AsyncClient | None = None,
) -> Wiring:
    settings = configuration.settings
    client = http or httpx.AsyncClient()
    executor = Executor(
        merchants=configuration.merchants,
        pool=dependencies.pool,
        caller=WebhookCaller(
            endpoints=configuration.endpoints,
            pool=dependencies.pool,
            http=client,
            clock=configuration.clock,
            wall_clock=configuration.wall_clock,
            breakers=BreakerBoard(),
        ),
        clock=configuration.clock,
        rng=configuration.rng,
        retry_delays=settings.retry_delays(),
        retry_jitter=settings.retry_jitter,
    )
    decisions = DecisionConsumer(Decisions(merchants=configuration.merchants))
    erasure = ErasureConsumer(clock=configuration.clock)
    commands = [(action_commands.TOPIC, EXECUTOR_GROUP)] + [
        (topic, "actions." + topic.name.split(".")[2]) for topic in action_commands.RETRY_TOPICS
    ]
    return Wiring(
        subscriptions=(
            Subscription(conversations.TOPIC, CONVERSATIONS_GROUP, decisions.on_conversation),
            Subscription(anomalies.TOPIC, ANOMALIES_GROUP, decisions.on_anomaly),
            Subscription(
                shipment_state.TOPIC,
                SHIPMENT_STATE_GROUP,
                erasure.on_shipment_state,
                on_tombstone=erasure.on_shipment_erased,
            ),
            *(
                command_subscription(topic, group, executor=executor, settings=settings)
                for topic, group in commands
            ),
        ),
        clock=configuration.clock,
        closers=() if http is not None else (client.aclose,),
    )


def command_subscription(
    topic: Topic, group: str, *, executor: Executor, settings: ActionsSettings
) -> Subscription:
    """A retry tier's command waits for its due time; the command topic's is due at once."""
    return Subscription(
        topic=topic,
        group_id=group,
        handler=CommandConsumer(executor, group=settings.consumer_group_prefix + group),
        max_records=1,
        due_at=None if topic is action_commands.TOPIC else due_time,
    )
