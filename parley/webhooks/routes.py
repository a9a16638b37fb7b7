"""The webhook endpoints of the control plane, listed by ``routes`` for the
app's lifespan, which passes them to the control plane. A reset needs nothing
of its own here: ``control/state.reset`` drops the deliveries
(``outbox.forget``) and the faults (an account table) with the rest.

::

    GET    /parley/v1/webhooks/deliveries   ?state=failed&event_type=onMessageSent&limit=50
                                            what was sent, to where, answered how
    POST   /parley/v1/faults                {"count": 2, "status": 503} or
                                            {"count": 1, "timeout": true}; optional
                                            "url" (prefix) and "event_type"
    GET    /parley/v1/faults                the account's faults still to come
    DELETE /parley/v1/faults                drop them

An account reset also drops its delivery record and its faults. The routes
only read and write rows, so any process may serve them (no worker needed). The control
plane knows nothing of this module: it only takes routes and reset hooks.
"""

from typing import Any

import orjson

from parley.control.http import ControlPlane, Route, query_limit, query_value
from parley.errors import TwilioError
from parley.store import Store
from parley.webhooks.double import (
    STATES,
    Fault,
    add_fault,
    clear_faults,
    deliveries,
    faults,
)

__all__ = ["routes"]


def _account(account: str | None) -> str:
    if account is None:
        raise TwilioError(20001, message="Webhook records are per account: use its credentials")
    return account


def routes(store: Store) -> list[Route]:
    async def list_deliveries(_: ControlPlane, account: str | None, request: Any) -> Any:
        state = query_value(request, "state")
        if state is not None and state not in STATES:
            raise TwilioError(20001, message=f"state must be one of {list(STATES)}")
        limit = query_limit(request)
        async with store.read() as tx:
            found = await deliveries(
                tx,
                _account(account),
                state=state,
                kind=query_value(request, "event_type"),
                limit=limit,
            )
        return {"deliveries": found}

    async def inject(_: ControlPlane, account: str | None, request: Any) -> Any:
        owner = _account(account)
        fault = _fault(request["body"])
        async with store.write() as tx:
            try:
                await add_fault(tx, owner, fault)
            except ValueError as exc:
                raise TwilioError(20001, message=str(exc)) from None
            return {"faults": await faults(tx, owner)}

    async def pending(_: ControlPlane, account: str | None, request: Any) -> Any:
        async with store.read() as tx:
            return {"faults": await faults(tx, _account(account))}

    async def clear(_: ControlPlane, account: str | None, request: Any) -> Any:
        async with store.write() as tx:
            await clear_faults(tx, _account(account))
        return {"faults": []}

    return [
        ("GET", "webhooks/deliveries", list_deliveries),
        ("POST", "faults", inject),
        ("GET", "faults", pending),
        ("DELETE", "faults", clear),
    ]


def _fault(body: bytes) -> Fault:
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise TwilioError(20001, message="A fault is a JSON object") from None
    if not isinstance(data, dict):
        raise TwilioError(20001, message="A fault is a JSON object")
    unknown = set(data) - {"count", "status", "timeout", "url", "event_type"}
    if unknown:
        raise TwilioError(20001, message=f"Unknown fault keys {sorted(unknown)}")
    timeout, status = bool(data.get("timeout")), data.get("status")
    if timeout == (status is not None):
        raise TwilioError(20001, message='A fault has either a "status" or "timeout": true')
    count = data.get("count", 1)
    for name, value in (("count", count), ("status", status)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TwilioError(20001, message=f"{name} must be an integer")
    for name in ("url", "event_type"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise TwilioError(20001, message=f"{name} must be a string")
    return Fault(count, status, data.get("url"), data.get("event_type"))
