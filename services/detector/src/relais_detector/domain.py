"""The detector's pure domain logic (no I/O): arrives with issue 4."""
