"""Relais chat: serves the branded decision-tree chat and the tracking page."""
