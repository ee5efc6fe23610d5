"""The notifier's pure domain logic (no I/O): arrives with issue 5."""
