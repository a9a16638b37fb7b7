"""The ``presence`` table: who is connected, on which process, until when.

One row per socket or simulated connection (migration 0030). A user is
reachable while any of its rows is live (``expires`` not passed), whichever
process holds it. Each process renews its own rows with a heartbeat
(``chat/reachability.py``); the rows of a process that stopped renewing them
(it crashed) expire, and whichever process sweeps them first marks their users
offline. docs/realtime-protocol.md, "Presence across processes".
"""

from typing import Literal, NewType, TypedDict

from parley.sids import AccountSid, ServiceSid
from parley.store import Tx, repo

Kind = Literal["socket", "simulated"]
ConnectionId = NewType("ConnectionId", str)
SOCKET: Kind = "socket"
SIMULATED: Kind = "simulated"


class Presence(TypedDict):
    connection: ConnectionId
    node: str
    kind: Kind
    account_sid: AccountSid
    service_sid: ServiceSid
    identity: str
    expires: int  # microseconds


async def record(tx: Tx, row: Presence) -> bool:
    """Add a connection (again: a row swept while its process could not renew
    it comes back); whether it was absent."""
    return await repo.insert_if_absent(tx, "presence", dict(row))


async def remove(tx: Tx, connection: ConnectionId) -> bool:
    """Remove a connection; whether this call removed it (two processes may
    sweep the same expired row: only one goes on to settle its user)."""
    return await tx.run("DELETE FROM presence WHERE connection = :c", {"c": connection}) > 0


async def live(tx: Tx, service_sid: str, identity: str, now: int, kind: Kind | None = None) -> int:
    """How many live connections (of one kind, or of any) the user has."""
    sql = (
        "SELECT COUNT(*) AS n FROM presence"
        " WHERE service_sid = :s AND identity = :i AND expires >= :now"
    )
    params: dict[str, object] = {"s": service_sid, "i": identity, "now": now}
    if kind is not None:
        sql += " AND kind = :k"
        params["k"] = kind
    row = await tx.one(sql, params)
    return int(row["n"]) if row else 0


async def one_simulated(tx: Tx, service_sid: str, identity: str) -> ConnectionId | None:
    """A simulated connection of the user (whichever process made it)."""
    row = await tx.one(
        "SELECT connection FROM presence WHERE service_sid = :s AND identity = :i"
        " AND kind = :k ORDER BY expires LIMIT 1",
        {"s": service_sid, "i": identity, "k": SIMULATED},
    )
    return ConnectionId(row["connection"]) if row else None


async def renew(tx: Tx, node: str, expires: int) -> set[ConnectionId]:
    """A process's heartbeat: its rows live on until ``expires``; returns the
    connections it still holds in the table."""
    await tx.run("UPDATE presence SET expires = :e WHERE node = :n", {"e": expires, "n": node})
    rows = await repo.select(tx, "presence", {"node": node}, order="connection")
    return {ConnectionId(r["connection"]) for r in rows}


async def expired(tx: Tx, now: int, limit: int = 500) -> list[Presence]:
    rows = await tx.all(
        "SELECT * FROM presence WHERE expires < :now ORDER BY expires LIMIT :limit",
        {"now": now, "limit": limit},
    )
    return [_row(r) for r in rows]


async def drop_node(tx: Tx, node: str) -> list[Presence]:
    """A process that stops forgets its rows; returns them (their users settle)."""
    rows = [_row(r) for r in await repo.select(tx, "presence", {"node": node}, order="connection")]
    await repo.delete(tx, "presence", {"node": node})
    return rows


async def forget(tx: Tx, account_sid: str | None) -> None:
    """A reset drops the account's simulated connections; sockets stay, since
    they are still open (their process removes them when they close)."""
    where: dict[str, object] = {"kind": SIMULATED}
    if account_sid is not None:
        where["account_sid"] = account_sid
    await repo.delete(tx, "presence", where)


def _row(row: dict[str, object]) -> Presence:
    return Presence(
        connection=ConnectionId(str(row["connection"])),
        node=str(row["node"]),
        kind=SIMULATED if row["kind"] == SIMULATED else SOCKET,
        account_sid=AccountSid(str(row["account_sid"])),
        service_sid=ServiceSid(str(row["service_sid"])),
        identity=str(row["identity"]),
        expires=int(str(row["expires"])),
    )
