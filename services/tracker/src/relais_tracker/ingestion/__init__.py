"""How carrier updates and merchant orders get into the tracker: webhooks, polling, order API."""
