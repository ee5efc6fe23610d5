"""The chat's pure domain (no I/O): scenarios, the engine that walks them, form
parsing, the events a conversation publishes and link access rules. What the pages
show lives beside it, in relais_chat.ui."""
