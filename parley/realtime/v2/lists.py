"""Owner of the ``session_lists`` and ``session_commands`` tables: which Sync
lists are twilio-chat 2.x-4.x session lists (docs/realtime-protocol.md §9.3)
and the commands answered in them.

Its own module (it imports only the store), so the protocol (``session.py``)
and the Sync view's rebuild, which keeps the session lists it finds, both read
these rows through it.
"""

from typing import TypedDict, cast

from parley import timefmt
from parley.sids import AccountSid, ServiceSid
from parley.store import Tx, repo


class SessionList(TypedDict):
    """A row of ``session_lists``: one client's session list (its Sync list's
    SID) and the index its next command's item takes."""

    list_sid: str
    account_sid: AccountSid
    service_sid: ServiceSid
    identity: str
    next_index: int
    date_created: int
    last_command: int


class SessionCommand(TypedDict):
    """A row of ``session_commands``: the item a command (by the client's
    commandId) was answered in."""

    list_sid: str
    command_id: str
    item_index: int
    date_created: int


class Answered(TypedDict):
    """An answered command with its list's service (``answered_before``)."""

    list_sid: str
    command_id: str
    item_index: int
    service_sid: ServiceSid


class Ended(TypedDict):
    """A session list past its lifetime (``idle_before``)."""

    list_sid: str
    service_sid: ServiceSid


async def add(tx: Tx, row: SessionList) -> None:
    await repo.insert(tx, "session_lists", dict(row))


async def get(tx: Tx, list_sid: str) -> SessionList | None:
    return cast(SessionList | None, await repo.get(tx, "session_lists", {"list_sid": list_sid}))


async def of_identity(tx: Tx, service_sid: str, identity: str) -> list[str]:
    """The identity's session lists, most recently used first."""
    rows = await tx.all(
        "SELECT list_sid FROM session_lists WHERE service_sid = :s AND identity = :i"
        " ORDER BY last_command DESC, date_created DESC",
        {"s": service_sid, "i": identity},
    )
    return [row["list_sid"] for row in rows]


async def of_service(tx: Tx, service_sid: str) -> list[str]:
    """The SIDs of a service's session lists."""
    rows = await repo.select(tx, "session_lists", {"service_sid": service_sid}, order="list_sid")
    return [row["list_sid"] for row in rows]


async def forget(tx: Tx, list_sid: str) -> None:
    """A session list's rows and its commands' (its Sync list is the caller's)."""
    await repo.delete(tx, "session_commands", {"list_sid": list_sid})
    await repo.delete(tx, "session_lists", {"list_sid": list_sid})


async def take_index(tx: Tx, list_sid: str) -> int:
    """The index the list's next command takes (the row locked until commit);
    the list counts as used now."""
    where = {"list_sid": list_sid}
    changes = {"last_command": timefmt.now()}
    return await repo.take(tx, "session_lists", where, "next_index", changes=changes)


async def add_command(tx: Tx, row: SessionCommand) -> bool:
    """False when that commandId is already answered in the list."""
    return await repo.insert_if_absent(tx, "session_commands", dict(row))


async def command(tx: Tx, list_sid: str, command_id: str) -> SessionCommand | None:
    found = await repo.get(tx, "session_commands", {"list_sid": list_sid, "command_id": command_id})
    return cast(SessionCommand | None, found)


async def forget_command(tx: Tx, list_sid: str, command_id: str) -> None:
    await repo.delete(tx, "session_commands", {"list_sid": list_sid, "command_id": command_id})


async def idle_before(tx: Tx, cutoff: int, limit: int) -> list[Ended]:
    """Session lists without a command since ``cutoff``."""
    rows = await tx.all(
        "SELECT list_sid, service_sid FROM session_lists WHERE last_command < :c LIMIT :n",
        {"c": cutoff, "n": limit},
    )
    return cast(list[Ended], rows)


async def answered_before(tx: Tx, cutoff: int, limit: int) -> list[Answered]:
    """Commands answered before ``cutoff``, with their list's service."""
    rows = await tx.all(
        "SELECT c.list_sid, c.command_id, c.item_index, l.service_sid FROM session_commands c"
        " JOIN session_lists l ON l.list_sid = c.list_sid"
        " WHERE c.date_created < :c LIMIT :n",
        {"c": cutoff, "n": limit},
    )
    return cast(list[Answered], rows)
