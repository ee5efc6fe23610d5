"""The insights service's edges: its consumers (one per topic) and its HTTP routes."""
