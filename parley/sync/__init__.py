"""The Sync view: the state the real-time SDK reads (docs/realtime-protocol.md §6).

::

    domain write ──(same tx)──> events.record ──> the store's projectors: projection.project
                                                   └─> store: objects, items, sync_events
    rows loaded without events (imports, seeds) ──> rebuild

The view only: the socket side that serves it (the tunnelled Sync endpoints,
subscriptions and their live fan-out) is ``parley/realtime/sync_http.py`` and
``parley/realtime/subscriptions.py``.

Maps, lists and documents carry a per-object, gap-free event id; every change
to an object or one of its items is one event, stored, so a client that
reconnects (even after a restart) replays exactly what it missed.
"""
