"""Domain events: what changed, recorded in the transaction that changed it.

::

    write path ──(same transaction)──> events table (durable outbox)
         │ commit
         └──> bus.publish(events) ──> live consumers (real-time fan-out, tests)
    webhook worker ──reads the outbox from its own position──> receivers

Webhooks, the Sync view and push are consumers of these events; none of them
is called from the write path itself (pre-event webhooks excepted: they run
before the transaction and can veto it).
"""

from parley.events.model import (
    Event,
    Origin,
    Source,
    emit,
    insert_from,
    new,
    record,
    recorded,
)

__all__ = ["Event", "Origin", "Source", "emit", "insert_from", "new", "record", "recorded"]
