"""Carrier adapters: one module per carrier, registered in ADAPTERS."""
