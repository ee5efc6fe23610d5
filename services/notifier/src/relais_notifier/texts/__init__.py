"""What the customer reads: message catalogues, email and SMS rendering, the unsubscribe page."""
