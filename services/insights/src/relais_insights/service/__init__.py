"""The insights application: reports for one merchant and period, dashboard sessions,
the headline gauges, and the rebuild of the schema from the topics."""
