"""The actions's pure domain logic (no I/O): arrives with issue 7."""
