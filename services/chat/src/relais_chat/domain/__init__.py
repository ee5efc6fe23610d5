"""The chat's pure domain (no I/O): scenarios, the engine that walks them, form
parsing, link access rules and what the pages show."""
