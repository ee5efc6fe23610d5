"""Sample generators for the docs: outside the services' production packages."""
