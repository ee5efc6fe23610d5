"""What insights calls over the network (besides Kafka and PostgreSQL)."""
