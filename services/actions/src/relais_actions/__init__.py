"""Relais actions: has the merchant's systems carry out the customer's choice."""
