"""Relais notifier: tells the customer by email or SMS, exactly once, at the right time."""
