"""What the notifier speaks to outside: SMTP, SMS providers, and the signed links it hands out."""
