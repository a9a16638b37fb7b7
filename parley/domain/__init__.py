"""Chat behaviour: roles and permissions, counters, message indexes, the
consumption horizon, limits. No HTTP here; storage only through ``store.repo``.
Every action takes the open transaction and records its events in it."""
