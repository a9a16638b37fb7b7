"""Media bytes: stored in chunks as they arrive, read back in chunks, and
unattached uploads bounded and expired (docs/security.md, "Media limits").

::

    upload   Writer.write(bytes) ... -> a chunk row per CHUNK bytes, each in its
             own short transaction (the SQLite writer is never held for the
             length of an upload) -> finish(): the media row, in one more
             transaction: the upload exists from that commit on
    read     chunks(): one chunk at a time, never the whole file in memory
    delete   delete(): the media row and its chunks (message or channel deleted)
    expire   expire(): uploads never attached to a message, older than their
             time to live, with their chunks; orphan chunks of uploads that
             never finished (a process killed mid-upload) too

Rows written before chunking keep their bytes in ``media.content``; both are read.
"""

from collections.abc import AsyncIterator
from typing import TypedDict, cast

from parley import sids, timefmt
from parley.sids import AccountSid, MediaSid, MessageSid, ServiceSid
from parley.store import Row, Store, Tx, repo


class Media(TypedDict):
    """A row of ``media``, a table this module owns (with ``media_chunks``,
    its bytes): other modules read it through ``of_service``."""

    sid: MediaSid
    account_sid: AccountSid
    service_sid: ServiceSid
    content_type: str
    filename: str | None
    size: int
    content: bytes | None  # rows written before chunking keep their bytes here
    message_sid: MessageSid | None  # None until a message attaches it
    date_created: int


# what the readers take: a typed row, or one the upload just wrote
MediaRow = Media | Row


async def of_service(tx: Tx, service_sid: str, media_sid: str) -> Media | None:
    """The service's media of this SID."""
    row = await repo.get(tx, "media", {"sid": media_sid, "service_sid": service_sid})
    return cast(Media, row) if row is not None else None


CHUNK = 256 * 1024  # bytes per chunk row
UNATTACHED_COUNT_MAX = 10_000  # unattached uploads per account at once
EXPIRE_BATCH = 100  # uploads expired per transaction


class Writer:
    """One upload's bytes, written chunk by chunk as they arrive."""

    def __init__(self, store: Store, account_sid: str, service_sid: str) -> None:
        self.store = store
        self.sid = sids.new_sid(sids.MEDIA)
        self.account_sid = account_sid
        self.service_sid = service_sid
        self.size = 0
        self._pending = bytearray()
        self._next = 0

    async def write(self, data: bytes) -> None:
        self._pending += data
        self.size += len(data)
        while len(self._pending) >= CHUNK:
            await self._flush(bytes(self._pending[:CHUNK]))
            del self._pending[:CHUNK]

    async def reset(self) -> None:
        """Forget what was written so far (another part of a form is the file)."""
        await self.discard()
        self.size = 0
        self._pending.clear()
        self._next = 0

    async def _flush(self, data: bytes) -> None:
        async with self.store.write() as tx:
            await repo.insert(
                tx,
                "media_chunks",
                {
                    "media_sid": self.sid,
                    "n": self._next,
                    "account_sid": self.account_sid,
                    "service_sid": self.service_sid,
                    "data": data,
                    "date_created": timefmt.now(),
                },
            )
        self._next += 1

    async def end(self) -> None:
        """Store what is left of the bytes (before ``finish``'s transaction)."""
        if self._pending:
            await self._flush(bytes(self._pending))
            self._pending.clear()

    async def finish(self, tx: Tx, content_type: str, filename: str | None) -> Row:
        """The media row, in the caller's transaction, once ``end`` stored
        the last chunk: the upload exists from this commit on."""
        assert not self._pending, "end() first"
        row: Row = {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "service_sid": self.service_sid,
            "content_type": content_type,
            "filename": filename,
            "size": self.size,
            "content": None,
            "message_sid": None,
            "date_created": timefmt.now(),
        }
        await repo.insert(tx, "media", row)
        return row

    async def discard(self) -> None:
        """The upload failed: its chunks go (the expiry sweep would find them too)."""
        if self._next:
            async with self.store.write() as tx:
                await repo.delete(tx, "media_chunks", {"media_sid": self.sid})


async def chunks(store: Store, media: MediaRow) -> AsyncIterator[bytes]:
    """The media's bytes, one chunk per read."""
    if media["content"] is not None:  # stored whole, before chunking
        yield bytes(media["content"])
        return
    n = 0
    while True:
        async with store.read() as tx:
            row = await tx.one(
                "SELECT data FROM media_chunks WHERE media_sid = :s AND n = :n",
                {"s": media["sid"], "n": n},
            )
        if row is None:
            return
        yield bytes(row["data"])
        n += 1


async def content(tx: Tx, media: MediaRow) -> bytes:
    """All of a media's bytes at once (state dumps, which hold them anyway)."""
    if media["content"] is not None:
        return bytes(media["content"])
    rows = await tx.all(
        "SELECT data FROM media_chunks WHERE media_sid = :s ORDER BY n", {"s": media["sid"]}
    )
    return b"".join(bytes(r["data"]) for r in rows)


async def attach(tx: Tx, media_sid: str, message_sid: str) -> None:
    """The media is now the message's (``message_sid``: attached, never again)."""
    await repo.update(tx, "media", {"sid": media_sid}, {"message_sid": message_sid})


async def delete(tx: Tx, media_sid: str) -> None:
    await repo.delete(tx, "media", {"sid": media_sid})
    await repo.delete(tx, "media_chunks", {"media_sid": media_sid})


async def unattached(tx: Tx, account_sid: str) -> tuple[int, int]:
    """(uploads, bytes) of the account not attached to any message."""
    row = await tx.one(
        "SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS total FROM media"
        " WHERE account_sid = :a AND message_sid IS NULL",
        {"a": account_sid},
    )
    return (int(row["n"]), int(row["total"])) if row else (0, 0)


async def expire(store: Store, ttl_seconds: float, limit: int = EXPIRE_BATCH) -> int:
    """Delete up to ``limit`` unattached uploads older than ``ttl_seconds``,
    and chunks of uploads that never finished; returns how many uploads went."""
    before = timefmt.now() - int(ttl_seconds * 1_000_000)
    async with store.write() as tx:
        rows = await tx.all(
            "SELECT sid FROM media WHERE message_sid IS NULL AND date_created < :b"
            " ORDER BY date_created LIMIT :n",
            {"b": before, "n": limit},
        )
        for row in rows:
            await delete(tx, row["sid"])
        await tx.run(
            "DELETE FROM media_chunks WHERE date_created < :b"
            " AND NOT EXISTS (SELECT 1 FROM media m WHERE m.sid = media_chunks.media_sid)",
            {"b": before},
        )
    return len(rows)


async def forget_service(tx: Tx, service_sid: str) -> None:
    """Every media of a service being deleted (``service_delete.delete``), with its bytes."""
    await repo.delete(tx, "media", {"service_sid": service_sid})
    await repo.delete(tx, "media_chunks", {"service_sid": service_sid})
