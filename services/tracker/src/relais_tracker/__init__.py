"""Relais tracker: carrier updates and merchant orders, one normalized story per shipment."""
