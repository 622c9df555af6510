"""Example answers for the OpenAPI document (filled from real answers to the seed content)."""

ATOM_EXAMPLE = ""
JSON_EXAMPLE: dict = {}
HTML_EXAMPLE = ""
