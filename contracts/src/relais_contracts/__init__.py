"""Relais's shared message contracts: models, topic registry, examples, schema export.

Start at `relais_contracts.topics.ALL_TOPICS`; see contracts/README.md for the rules.
"""
