"""The Sync view: the state the real-time SDK reads (client-protocol.md §3).

::

    domain write ──(same tx)──> events.record ──> PROJECTORS: projection.project
                                                   └─> store: objects, items, sync_events
    commit ──> bus ──> fanout.Hub: sync_events of those domain events
                                   ──> subscribed sessions (live notifications)
    POST /v4/Subscriptions ──> replay sync_events after last_event_id, then
                               subscription_established

Maps, lists and documents carry a per-object, gap-free event id; every change
to an object or one of its items is one event, stored, so a client that
reconnects (even after a restart) replays exactly what it missed.
"""
