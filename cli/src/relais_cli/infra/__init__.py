"""Local infrastructure without Docker: Kafka (KRaft), PostgreSQL and an SMTP catcher.

Rules every component follows:
- settings are read from the environment once, when a command starts (`InfraSettings`),
  and passed down; nothing here reads the environment at import time;
- state lives outside the repository, in `RELAIS_STATE_DIR` (default ~/.local/state/relais);
  downloaded Kafka jars live in the cache (`$XDG_CACHE_HOME/relais`, default ~/.cache/relais);
- `up` is idempotent: a component that already answers is left alone; a server that answers
  but was not started by Relais is used, never restarted;
- `down` stops only processes that `up` started, recognised by their pid file and command line.
"""
