"""The web console: ``/console`` on Parley's own port (docs/console.md)."""

from parley.console.app import PREFIX, Console

__all__ = ["PREFIX", "Console"]
