"""Domain events: what changed, recorded in the transaction that changed it.

::

    write path ──(same transaction)──> events table (the outbox), and the
         │                             store's projectors (parley.app.PROJECTORS):
         │                             webhook deliveries, pushes, the Sync view
         │ commit
         └──> bus.publish(events) ──> live subscribers (real-time fan-out,
                                      the workers' wake-ups)
    webhook / push workers ──their own rows (polled, or woken)──> receivers

Webhooks, the Sync view and push consume these events as projectors: each
plans its work in the transaction of the change, so what is committed is
planned; none of them sends from the write path itself (pre-event webhooks
excepted: they run before the transaction and can veto it).
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
