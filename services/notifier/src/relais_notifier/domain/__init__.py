"""The notifier's pure logic (no I/O): triggers, the sending policy, SMS length."""
