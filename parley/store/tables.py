"""Which tables hold an account's rows: declared once, walked by reset, export
and import (``parley/control/state.py``).

Every table of the schema is either listed in ``ACCOUNT`` (its rows belong to
one account) or in ``GLOBAL`` (shared bookkeeping, or the accounts themselves);
``tests/test_tables.py`` fails when a migration adds a table that is neither,
so a new table cannot be forgotten by a reset or a dump.

``ACCOUNT`` lists parents before children: export and import walk it in this
order, reset in reverse.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountTable:
    name: str
    # the dump carries its rows (the account's resources, not what derives from them)
    dump: bool = False
    # rows that carry no account_sid belong to the account through a parent:
    # (this table's column, the parent table whose ``sid`` it names)
    parent: tuple[str, str] | None = None
    # what a reset does: "delete" the account's rows; "keep" them (the
    # caller's credentials); "owner": the owning module forgets them itself,
    # with bookkeeping a plain delete would get wrong (webhook lanes' counts)
    reset: str = "delete"


ACCOUNT: tuple[AccountTable, ...] = (
    AccountTable("api_keys", reset="keep"),
    AccountTable("services", dump=True),
    AccountTable("roles", dump=True),
    AccountTable("users", dump=True),
    AccountTable("channels", dump=True),
    AccountTable("members", dump=True),
    AccountTable("messages", dump=True),
    AccountTable("media", dump=True),
    # a dump holds each media's bytes whole (state.export), however stored
    AccountTable("media_chunks"),
    AccountTable("invites", dump=True),
    AccountTable("channel_webhooks", dump=True),
    AccountTable("credentials", dump=True),
    AccountTable("bindings", dump=True),
    AccountTable("events"),
    # a reset drops the account's pushes, sent or not
    AccountTable("pushes"),
    # parley.webhooks.outbox.forget (called by state.reset) keeps lane counts right
    AccountTable("webhook_deliveries", reset="owner"),
    AccountTable("webhook_attempts", reset="owner"),
    AccountTable("webhook_faults"),
    # realtime.presence.forget: simulated connections go, open sockets stay
    AccountTable("presence", reset="owner"),
    # console sign-ins stay, like the credentials they were made with
    AccountTable("console_sessions", reset="keep"),
    # the Sync view derives from the rows: an import rebuilds it (sync/rebuild.py)
    AccountTable("sync_objects"),
    AccountTable("sync_items", parent=("object_sid", "sync_objects")),
    AccountTable("sync_events", parent=("object_sid", "sync_objects")),
    # protocol version 2's session lists (docs/realtime-protocol.md §9.3): the
    # clients' own state, which a reset ends with the rest of the Sync view
    AccountTable("session_lists"),
    AccountTable("session_commands", parent=("list_sid", "sync_objects")),
)

GLOBAL: frozenset[str] = frozenset(
    {
        "parley_schema",  # applied migrations
        "accounts",  # a reset keeps the account; an import creates it (state.ensure_account)
        "webhook_lanes",  # delivery lanes, shared by the workers of every process
        "console_sign_in_failures",  # by client address or SID: no account of its own
    }
)

DUMPED: tuple[str, ...] = tuple(t.name for t in ACCOUNT if t.dump)

OWNERS: dict[str, str] = {
    # table -> the module that owns it: the only one (besides this declaration
    # and the migrations) that names the table in a query; every other module
    # goes through its named queries (tests/test_owners.py)
    "presence": "parley.realtime.presence",
    "members": "parley.domain.members",
    "invites": "parley.domain.invites",
    "users": "parley.domain.users",
    "services": "parley.domain.services",
    "channels": "parley.domain.channels",
    "roles": "parley.domain.roles",
    "bindings": "parley.domain.bindings",
    "credentials": "parley.domain.credentials",
    "channel_webhooks": "parley.domain.channel_webhooks",
    "accounts": "parley.accounts",
    "api_keys": "parley.accounts",
    "media": "parley.domain.media",
    "media_chunks": "parley.domain.media",
    "pushes": "parley.push.outbox",
    "webhook_deliveries": "parley.webhooks.outbox",
    "webhook_attempts": "parley.webhooks.outbox",
    "webhook_lanes": "parley.webhooks.outbox",
    "webhook_faults": "parley.webhooks.double",
    "console_sessions": "parley.console.sessions",
    "console_sign_in_failures": "parley.console.sessions",
    "session_lists": "parley.realtime.v2.lists",
    "messages": "parley.domain.messages",
    "events": "parley.events.model",
    "sync_objects": "parley.sync.store",
    "sync_items": "parley.sync.store",
    "sync_events": "parley.sync.store",
    "session_commands": "parley.realtime.v2.lists",
}

JOINS: dict[str, frozenset[str]] = {
    # owner module -> the other tables its named queries may read in the same
    # statement as its own table (a join or a subquery). A query that needs
    # several tables in one statement belongs to the owner of the rows it
    # returns, and is named there; the other tables' owners are not asked
    # (their named queries would cost a statement each). Only statements that
    # also read the module's own table may name these (tests/test_owners.py).
    #
    # a new message's push recipients: bindings of the channel's members
    "parley.domain.bindings": frozenset({"members"}),
    # push badges: unread messages over the user's memberships
    "parley.domain.members": frozenset({"channels", "messages"}),
    # a delivery is read with its event and the account's signing key
    "parley.webhooks.outbox": frozenset({"events", "accounts"}),
}
