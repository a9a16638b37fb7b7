"""Push notifications to phones: planned with the change (``plan``), kept in
the push outbox (``outbox``), sent after commit by the ``Worker`` through the
gateways (``gateways``: APNs, FCM). docs/push.md describes the whole path."""

from parley.push.worker import Worker

__all__ = ["Worker"]
