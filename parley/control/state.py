"""An account's whole state as JSON, and back: export, import, reset.

The dump holds the stored rows themselves (not the REST rendering), so an
import reproduces SIDs, dates, indexes and counters exactly; rows are exported
in creation order and imported in that order, so every list pages the same.
Secrets stay out: push credentials lose their key material, and account auth
tokens and API keys are never exported.
"""

import base64
from collections.abc import Callable
from typing import Any

from parley import accounts, timefmt
from parley.domain import media
from parley.realtime import presence
from parley.store import Row, Store, Tx, repo, tables
from parley.sync.rebuild import rebuild
from parley.webhooks import outbox

FORMAT = "parley-state"
VERSION = 1

# The tables a dump carries, parents before children (declared in store/tables.py)
TABLES: tuple[str, ...] = tables.DUMPED
_WITHHELD = {"credentials": ("secrets",)}
_BINARY = {"media": ("content",)}
_ORDER = {"media": "date_created, sid"}  # media rows are not listed, so have no seq

Progress = Callable[[str, int], None]


def _out(table: str, row: Row) -> Row:
    row = {k: v for k, v in row.items() if k not in _WITHHELD.get(table, ())}
    for column in _BINARY.get(table, ()):
        if row.get(column) is not None:
            row[column] = base64.b64encode(bytes(row[column])).decode()
    return row


def _in(table: str, row: Row) -> Row:
    row = dict(row)
    for column in _BINARY.get(table, ()):
        if row.get(column) is not None:
            row[column] = base64.b64decode(row[column])
    return row


async def export(tx: Tx, account_sid: str) -> dict[str, Any]:
    account = await accounts.account(tx, account_sid)
    if account is None:
        raise LookupError(f"no account {account_sid}")
    dumped = {}
    for table in TABLES:
        rows = await repo.select(
            tx, table, {"account_sid": account_sid}, order=_ORDER.get(table, "seq")
        )
        if table == "media":  # a dump holds each media's bytes whole, however stored
            rows = [{**r, "content": await media.content(tx, r)} for r in rows]
        dumped[table] = [_out(table, r) for r in rows]
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported": timefmt.to_twilio(timefmt.now()),
        "account": {"sid": account_sid, "friendly_name": account["friendly_name"]},
        "tables": dumped,
    }


class DumpError(ValueError):
    """A dump that cannot be loaded (wrong format, or another account's)."""


def check(dump: Any, account_sid: str | None = None) -> str:
    """Validate a dump's envelope; returns its account SID."""
    if not isinstance(dump, dict) or dump.get("format") != FORMAT:
        raise DumpError(f"not a {FORMAT} dump")
    if dump.get("version") != VERSION:
        raise DumpError(f"unsupported {FORMAT} version {dump.get('version')!r}")
    owner = dump.get("account", {}).get("sid")
    if not isinstance(owner, str):
        raise DumpError("the dump names no account")
    if account_sid is not None and owner != account_sid:
        raise DumpError("the dump belongs to another account")
    given = dump.get("tables")
    if not isinstance(given, dict) or not set(given) <= set(TABLES):
        raise DumpError("unknown tables in the dump")
    for table, rows in given.items():
        if not isinstance(rows, list) or any(
            not isinstance(r, dict) or r.get("account_sid") != owner for r in rows
        ):
            raise DumpError(f"{table}: every row must belong to account {owner}")
    return owner


BATCH = 1000  # rows per multi-row statement (tx.many)


async def load(tx: Tx, dump: dict[str, Any], progress: Progress | None = None) -> int:
    """Load a checked dump idempotently: a row whose key exists is overwritten
    with the dump's values, a new one is inserted. Returns the rows written.

    Rows go in batches (one ``executemany`` per batch and column set): a dump
    of 50k messages loads in seconds, not minutes.
    """
    written = 0
    for table in TABLES:
        rows = [_in(table, row) for row in dump["tables"].get(table, [])]
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            await _load_batch(tx, table, batch)
            written += len(batch)
            if progress is not None:
                progress(table, len(batch))
        if rows and table not in _ORDER:
            await tx.sync_sequence(table)
    return written


async def restore(
    tx: Tx, account_sid: str, dump: dict[str, Any], progress: Progress | None = None
) -> int:
    """Load a checked dump of ``account_sid`` (``load``), then build the Sync
    view of what it loaded: loaded rows have no domain events. What an import
    does, from the CLI or the control plane. Returns the rows written."""
    written = await load(tx, dump, progress)
    await rebuild(tx, account_sid)
    return written


async def _load_batch(tx: Tx, table: str, rows: list[Row]) -> None:
    existing = await repo.existing(tx, table, "sid", [r["sid"] for r in rows])
    seqs = [r["seq"] for r in rows if r.get("seq") is not None]
    # keep each new row's place in list order (and so its page tokens) unless
    # another row holds it in this database; then the table's counter decides
    taken = await repo.existing(tx, table, "seq", seqs) if seqs else set()
    fresh: list[Row] = []
    for row in rows:
        seq = row.pop("seq", None)
        if row["sid"] in existing:
            await repo.update(tx, table, {"sid": row["sid"]}, row)
            continue
        if seq is not None and seq not in taken:
            row["seq"] = seq
        fresh.append(row)
    await repo.insert_many(tx, table, fresh)


async def reset(tx: Tx, account_sid: str | None) -> None:
    """Remove every resource (and pending event) of one account, or of all.

    Accounts and API keys stay, so the caller's credentials keep working.
    """
    await outbox.forget(tx, account_sid)  # webhooks not yet sent for those events
    await presence.forget(tx, account_sid)  # simulated connections (open sockets stay)
    where = {"account_sid": account_sid} if account_sid else {}
    for table in reversed(tables.ACCOUNT):
        if table.reset != "delete":
            continue
        if table.parent is None or account_sid is None:
            await repo.delete(tx, table.name, where)
            continue
        column, parent = table.parent
        await tx.run(
            f"DELETE FROM {table.name} WHERE {column} IN"
            f" (SELECT sid FROM {parent} WHERE account_sid = :account)",
            {"account": account_sid},
        )


async def ensure_account(store: Store, sid: str, friendly_name: str | None) -> str | None:
    """Create the dump's account when importing into a server that lacks it;
    returns the new account's auth token (None when it existed)."""
    async with store.read() as tx:
        if await accounts.account(tx, sid) is not None:
            return None
    return (await accounts.create_account(store, friendly_name, sid=sid))["auth_token"]
