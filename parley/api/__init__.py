"""The REST API v2: a declarative table of resources and one request flow."""
