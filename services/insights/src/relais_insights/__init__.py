"""Relais insights: the merchant KPIs computed from every topic of the flow."""
