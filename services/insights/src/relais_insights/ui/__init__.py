"""Presentation: the dashboard's pages, words (fr/en) and SVG charts, rendered on the server."""
