"""Webhooks: post-event delivery from a durable outbox, and pre-event calls.

- ``params``: event -> the parameters Twilio sends (docs/behaviour.md §W3)
- ``signature``: ``X-Twilio-Signature`` (docs/behaviour.md §W7)
- ``sender``: one signed request and its retry judgement
- ``outbox``: deliveries planned in the event's transaction; lanes, leases, attempts
- ``worker``: claims lanes and delivers after commit, in any number of processes
- ``prehook``: synchronous pre-event calls (reject / modify)
- ``double``: the delivery record, injected faults and reset, for the test double
- ``routes``: those as control-plane endpoints (``/parley/v1/webhooks/deliveries``, ``/faults``)
"""

from parley.webhooks import outbox as outbox
from parley.webhooks.worker import Worker

__all__ = ["Worker", "outbox"]
