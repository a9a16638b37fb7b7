"""Domain writes for the Sync tests, shaped as the event contract says
(HELPERS.md: payload = the stored row + extras, emitted in the same transaction).

The channel/member/message domain modules live on other branches; until they
are merged these helpers stand in for them in tests only. They write the rows
of the 0001 schema and emit the contract's kinds, which is all the projection
reads.
"""

from typing import Any

from parley import sids, timefmt
from parley.domain import users
from parley.events import Origin, emit
from parley.store import Row, repo
from tests.conftest import Server

API = Origin("api")


def run_write(server: Server, action: Any) -> Any:
    store = server.app.store
    assert store is not None

    async def go() -> Any:
        async with store.write() as tx:
            return await action(tx)

    return server.run(go())


def service_row(server: Server, service_sid: str) -> Row:
    async def get(tx: Any) -> Row:
        row = await repo.get(tx, "services", {"sid": service_sid})
        assert row is not None
        return row

    result: Row = run_write(server, get)
    return result


def user(server: Server, service_sid: str, identity: str) -> Row:
    service = service_row(server, service_sid)

    async def make(tx: Any) -> Row:
        row, _ = await users.get_or_create(tx, service, identity, API)
        return row

    result: Row = run_write(server, make)
    return result


def channel(server: Server, service: Row, kind: str = "public", **values: Any) -> Row:
    row: Row = {
        "sid": sids.new_sid(sids.CHANNEL),
        "account_sid": service["account_sid"],
        "service_sid": service["sid"],
        "friendly_name": values.get("friendly_name", "general"),
        "unique_name": values.get("unique_name"),
        "attributes": "{}",
        "type": kind,
        "created_by": "system",
        "members_count": 0,
        "messages_count": 0,
        "next_message_index": 0,
        "last_message_sid": None,
        "date_created": timefmt.now(),
        "date_updated": None,
    }

    async def make(tx: Any) -> Row:
        await repo.insert(tx, "channels", row)
        await emit(tx, API, "onChannelAdded", row)
        return row

    result: Row = run_write(server, make)
    return result


def member(server: Server, channel_row: Row, user_row: Row) -> Row:
    row: Row = {
        "sid": sids.new_sid(sids.MEMBER),
        "account_sid": channel_row["account_sid"],
        "service_sid": channel_row["service_sid"],
        "channel_sid": channel_row["sid"],
        "user_sid": user_row["sid"],
        "identity": user_row["identity"],
        "role_sid": None,
        "attributes": "{}",
        "last_consumed_message_index": None,
        "last_consumption_timestamp": None,
        "notification_level": "default",
        "date_created": timefmt.now(),
        "date_updated": None,
    }

    async def make(tx: Any) -> Row:
        await repo.insert(tx, "members", row)
        await emit(tx, API, "onMemberAdded", row, reason="ADDED")
        return row

    result: Row = run_write(server, make)
    return result


def message(server: Server, channel_row: Row, author: str, body: str) -> Row:
    async def make(tx: Any) -> Row:
        index = await repo.take(tx, "channels", {"sid": channel_row["sid"]}, "next_message_index")
        row: Row = {
            "sid": sids.new_sid(sids.MESSAGE),
            "account_sid": channel_row["account_sid"],
            "service_sid": channel_row["service_sid"],
            "channel_sid": channel_row["sid"],
            "idx": index,
            "author": author,
            "body": body,
            "attributes": "{}",
            "type": "text",
            "media_sid": None,
            "last_updated_by": None,
            "was_edited": 0,
            "date_created": timefmt.now(),
            "date_updated": None,
        }
        await repo.insert(tx, "messages", row)
        await emit(tx, API, "onMessageSent", row)
        return row

    result: Row = run_write(server, make)
    return result


def remove_message(server: Server, row: Row) -> None:
    async def go(tx: Any) -> None:
        await repo.delete(tx, "messages", {"sid": row["sid"]})
        await emit(tx, API, "onMessageRemoved", row, removed_by="system")

    run_write(server, go)
