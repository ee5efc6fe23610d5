"""The chat's application steps: between the pages or the consumers and the
repository, the domain and the outbox."""
