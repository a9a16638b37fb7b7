"""The push record on the control plane: ``routes`` lists its endpoint for the
app's lifespan, which passes it to the control plane.

::

    GET /parley/v1/pushes   ?state=sent&identity=bob&type=new_message&limit=50
                            every push of the account, oldest first: to whom,
                            which binding and device, what it said, how it went

An account reset drops its pushes, sent or not (``pushes`` is declared
account-scoped in ``parley/store/tables.py``). The route only reads rows, so
any process may serve it.
"""

from typing import Any

import orjson

from parley import timefmt
from parley.control.http import ControlPlane, Route, query_limit, query_value
from parley.errors import TwilioError
from parley.push import outbox
from parley.store import Store


def describe(row: outbox.Push) -> dict[str, Any]:
    """A push as the control plane and ``parley pushes failed`` show it."""
    content = orjson.loads(row["payload"])
    return {
        "seq": row["seq"],
        "event_seq": row["event_seq"],
        "type": row["kind"],
        "account_sid": row["account_sid"],
        "service_sid": row["service_sid"],
        "channel_sid": row["channel_sid"],
        "identity": row["identity"],
        "binding_sid": row["binding_sid"],
        "binding_type": row["binding_type"],
        "credential_sid": row["credential_sid"],
        "address": row["address"],
        "body": content["body"],
        "sound": content.get("sound"),
        "badge": content.get("badge"),
        "data": content.get("data") or {},
        "state": row["state"],
        "attempts": row["attempts"],
        "last_status": row["last_status"],
        "last_error": row["last_error"],
        "date_created": timefmt.to_webhook(row["date_created"]),
        "date_updated": timefmt.to_webhook(row["date_updated"]),
    }


def routes(store: Store) -> list[Route]:
    async def list_pushes(_: ControlPlane, account: str | None, request: Any) -> Any:
        if account is None:
            raise TwilioError(20001, message="Push records are per account: use its credentials")
        state = query_value(request, "state")
        if state is not None and state not in outbox.STATES:
            raise TwilioError(20001, message=f"state must be one of {list(outbox.STATES)}")
        limit = query_limit(request)
        async with store.read() as tx:
            rows = await outbox.listing(
                tx,
                account,
                state=state,
                identity=query_value(request, "identity"),
                kind=query_value(request, "type"),
                limit=limit,
            )
        return {"pushes": [describe(r) for r in rows]}

    return [("GET", "pushes", list_pushes)]
