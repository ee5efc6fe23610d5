"""Relais detector: delivery anomalies, event-driven and time-driven, on durable timers."""
