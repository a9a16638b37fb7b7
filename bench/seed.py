"""Seeding through Parley's own store: the account, a service and channels (through
the domain), and messages inserted as rows in transactions, not through HTTP.

A million messages through HTTP would take longer than the whole suite may run;
``INSERT … SELECT`` from a generated series writes them in seconds, with the
columns the API writes, and the channel's ``next_message_index`` and
``messages_count`` kept equal to what the API would have left.
"""

import time
from dataclasses import dataclass

from parley import accounts, timefmt
from parley.domain import channels as parley_channels
from parley.domain import services
from parley.events import Origin
from parley.store import Store, repo

CHUNK = 200_000  # rows per transaction

_SERIES = {
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi - 1) "
        "INSERT INTO messages ({cols}) "
        "SELECT 'IM' || lower(hex(randomblob(16))), {values} FROM n"
    ),
    "postgres": (
        "INSERT INTO messages ({cols}) "
        "SELECT 'IM' || md5(random()::text || i::text), {values} "
        "FROM generate_series(CAST(:lo AS BIGINT), CAST(:hi AS BIGINT) - 1) AS i"
    ),
}
_COLUMNS = {
    "account_sid": ":account_sid",
    "service_sid": ":service_sid",
    "channel_sid": ":channel_sid",
    "idx": "i",
    "author": "'bench'",
    "body": "'seeded message ' || CAST(i AS TEXT)",
    "attributes": "NULL",
    "type": "'text'",
    "was_edited": "0",
    "date_created": "CAST(:t0 AS BIGINT) + i",
    "date_updated": "NULL",  # as messages.create leaves it
}


@dataclass(frozen=True, slots=True)
class Fixture:
    account_sid: str
    auth_token: str
    service_sid: str
    channels: dict[str, str]  # role -> channel SID


async def prepare(store: Store, channel_roles: list[str]) -> Fixture:
    account = await accounts.create_account(store, "bench")
    async with store.write() as tx:
        service = await services.create(tx, account["sid"], "bench")
        channels = {}
        for role in channel_roles:
            values = {"friendly_name": role, "unique_name": role}
            channels[role] = (await parley_channels.create(tx, service, values, Origin()))["sid"]
    return Fixture(account["sid"], account["auth_token"], service["sid"], channels)


async def fill(store: Store, fixture: Fixture, channel_sid: str, count: int) -> float:
    """Append ``count`` messages to an empty channel; returns the seconds it took."""
    started = time.monotonic()
    cols = ", ".join(["sid", *_COLUMNS])
    sql = _SERIES[store.engine].format(cols=cols, values=", ".join(_COLUMNS.values()))
    params = {
        "account_sid": fixture.account_sid,
        "service_sid": fixture.service_sid,
        "channel_sid": channel_sid,
        "t0": timefmt.now() - count,
    }
    for lo in range(0, count, CHUNK):
        hi = min(lo + CHUNK, count)
        async with store.write() as tx:
            await tx.run(sql, {**params, "lo": lo, "hi": hi})
            if hi == count:
                last = await tx.one(
                    "SELECT sid FROM messages WHERE channel_sid = :c AND idx = :i",
                    {"c": channel_sid, "i": count - 1},
                )
                assert last is not None
                await repo.update(
                    tx,
                    "channels",
                    {"sid": channel_sid},
                    {
                        "next_message_index": count,
                        "messages_count": count,
                        "last_message_sid": last["sid"],
                    },
                )
    return time.monotonic() - started
