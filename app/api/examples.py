"""Example responses shown in the OpenAPI document, taken from the seed content."""

EXAMPLES: dict = {name: {} for name in ("condition", "therapy", "expert", "source", "topic", "claim", "quote")}
