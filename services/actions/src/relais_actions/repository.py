"""The actions service's SQL, on its own schema.

Verbs: get, get_or_create, create, update, delete, list; keyword arguments only.
"""
