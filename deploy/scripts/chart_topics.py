"""Write the Helm chart's topic list from the topic registry (relais_contracts.topics).

The chart renders Strimzi KafkaTopic resources (topics.strimzi.enabled) from
deploy/helm/relais/files/topics.yaml; this script generates that file, and
tests/deploy checks that it matches the registry:

    uv run python deploy/scripts/chart_topics.py          # rewrite the file
    uv run python deploy/scripts/chart_topics.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from relais_contracts.topics import ALL_TOPICS

TOPICS_FILE = Path(__file__).resolve().parents[1] / "helm" / "relais" / "files" / "topics.yaml"
HEADER = (
    "# Generated from relais_contracts.topics.ALL_TOPICS by deploy/scripts/chart_topics.py:\n"
    "# do not edit (tests/deploy checks it matches the registry).\n"
)


def registry() -> list[dict[str, object]]:
    """Name, partitions and topic-level configuration of every topic, in registry order."""
    return [
        {"name": topic.name, "partitions": topic.partitions, "config": topic.kafka_config()}
        for topic in ALL_TOPICS
    ]


def render() -> str:
    body = yaml.safe_dump({"topics": registry()}, sort_keys=False, default_flow_style=False)
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    expected = render()
    if args.check:
        current = TOPICS_FILE.read_text(encoding="utf-8") if TOPICS_FILE.exists() else ""
        if current != expected:
            print(f"{TOPICS_FILE} is stale: run deploy/scripts/chart_topics.py", file=sys.stderr)
            return 1
        return 0
    TOPICS_FILE.write_text(expected, encoding="utf-8")
    print(f"wrote {len(ALL_TOPICS)} topics to {TOPICS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
