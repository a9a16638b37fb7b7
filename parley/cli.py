"""The ``parley`` command: serve, and manage accounts and API keys."""

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from parley import accounts
from parley.config import Settings
from parley.store import Store, open_store

T = TypeVar("T")

_db = click.option(
    "--database-url",
    envvar="PARLEY_DATABASE_URL",
    default="sqlite:///var/parley.db",
    show_default=True,
    help="sqlite:///path.db, sqlite:// (memory) or postgresql://…",
)


def _with_store(url: str, action: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        from parley.app import PROJECTORS  # the app's: commands write as it does

        _ensure_sqlite_dir(url)
        store = await open_store(url, PROJECTORS)
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)


def _print(data: Any) -> None:
    click.echo(json.dumps(data))


@click.group()
def main() -> None:
    """Parley: a self-hosted Twilio Programmable Chat v2."""


def _serve_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--host", envvar="PARLEY_HOST", default="127.0.0.1", show_default=True)(f)
    f = click.option("--port", envvar="PARLEY_PORT", default=8080, type=int, show_default=True)(f)
    f = _db(f)
    f = click.option(
        "--public-url",
        envvar="PARLEY_PUBLIC_URL",
        default=None,
        help="base of every URL Parley emits (default http://HOST:PORT)",
    )(f)
    f = click.option(
        "--redis-url",
        envvar="PARLEY_REDIS_URL",
        default=None,
        help="redis://… to carry events between Parley processes",
    )(f)
    f = click.option(
        "--workers",
        envvar="PARLEY_WORKERS",
        default=1,
        type=int,
        show_default=True,
        help="server processes on this port (use PostgreSQL, and Redis, beyond 1)",
    )(f)
    f = click.option(
        "--persist/--ephemeral",
        default=True,
        show_default=True,
        help="keep state in --database-url (default), or in memory for this run only",
    )(f)
    f = click.option(
        "--enable-control-plane",
        "control_plane",
        envvar="PARLEY_CONTROL_PLANE",
        is_flag=True,
        default=False,
        help="serve /parley/v1/… (reset, state, seed); on by default with --ephemeral",
    )(f)
    f = click.option(
        "--admin-token",
        envvar="PARLEY_ADMIN_TOKEN",
        default=None,
        help="Bearer token that may reset every account through the control plane",
    )(f)
    f = click.option(
        "--allow-private-webhooks/--refuse-private-webhooks",
        "allow_private_webhooks",
        envvar="PARLEY_ALLOW_PRIVATE_WEBHOOKS",
        default=None,
        help="webhook targets on loopback/private addresses (docs/security.md);"
        " default: allowed by `dev`, refused by `serve`",
    )(f)
    f = click.option(
        "--secret-key-file",
        envvar="PARLEY_SECRET_KEY_FILE",
        default=None,
        help="key file for credential secrets when PARLEY_SECRET_KEY is unset"
        " (generated on first start; default: beside the SQLite file, else var/parley.key)",
    )(f)
    f = click.option("--log-level", default="info", show_default=True)(f)
    return f


def _run(settings: Settings, log_level: str, workers: int) -> None:
    import uvicorn

    from parley.app import build_app
    from parley.server import DrainingServer, uvicorn_options

    _ensure_sqlite_dir(settings.database_url)
    options: dict[str, Any] = {
        **uvicorn_options(settings),
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
    }
    if workers > 1 and settings.database_url == "sqlite://":
        raise click.ClickException("--ephemeral keeps state in one process: use --workers 1")
    if workers > 1:
        # each worker process builds its app from the environment
        os.environ.update(settings.to_env())
        uvicorn.run("parley.app:app_from_env", factory=True, workers=workers, **options)
    else:
        # one process: DrainingServer offloads real-time clients (twilsock 308) before
        # uvicorn closes their sockets
        app = build_app(settings)
        DrainingServer(uvicorn.Config(app, **options), app).run()


def _settings(options: dict[str, Any], *, dev: bool = False) -> Settings:
    settings = Settings()
    allow = options["allow_private_webhooks"]
    # a laptop's receivers are on 127.0.0.1; a shared service's never are
    settings.allow_private_webhooks = dev if allow is None else allow
    settings.host, settings.port = options["host"], options["port"]
    settings.public_url, settings.redis_url = options["public_url"], options["redis_url"]
    settings.admin_token = options["admin_token"]
    settings.secret_key_file = options["secret_key_file"]
    settings.database_url = options["database_url"] if options["persist"] else "sqlite://"
    settings.control_plane = options["control_plane"] or not options["persist"]
    return settings


@main.command()
@_serve_options
def serve(**options: Any) -> None:
    """Run the server (REST API on one port).

    With PARLEY_ACCOUNT_SID and PARLEY_AUTH_TOKEN set, that account is made to
    exist at start-up. Webhook targets on private addresses are refused unless
    allowed (--allow-private-webhooks, PARLEY_ALLOW_PRIVATE_WEBHOOKS=1).
    """
    _run(_settings(options), options["log_level"], options["workers"])


@main.command()
@_serve_options
def dev(**options: Any) -> None:
    """Run the server with a development account, created on first use and printed.
    Webhook targets on private addresses are allowed unless refused."""
    settings = _settings(options, dev=True)

    async def ensure(store: Store) -> dict[str, str]:
        found = await accounts.find_dev_account(store)
        return found or await accounts.create_account(store, "development")

    if settings.database_url == "sqlite://":
        raise click.ClickException("dev keeps its account in a database: drop --ephemeral")
    account = _with_store(settings.database_url, ensure)
    click.echo(
        "\n  Parley development account\n"
        f"    Account SID: {account['sid']}\n"
        f"    Auth Token:  {account['auth_token']}\n"
        f"    Base URL:    {settings.base_url}\n"
        + (f"    Console:     {settings.base_url}/console\n" if settings.console else "")
        + "\n"
        "  from twilio.rest import Client\n"
        f"  client = Client('{account['sid']}', '{account['auth_token']}')\n"
        f"  client.chat.base_url = '{settings.base_url}'\n"
    )
    _run(settings, options["log_level"], options["workers"])


@main.group("accounts")
def accounts_group() -> None:
    """Accounts (the Basic-auth identities)."""


@accounts_group.command("create")
@click.option("--friendly-name", default=None)
@_db
def accounts_create(friendly_name: str | None, database_url: str) -> None:
    """Create an account; prints {"sid", "auth_token"}."""
    _print(_with_store(database_url, lambda s: accounts.create_account(s, friendly_name)))


@main.group("keys")
def keys_group() -> None:
    """API keys (SK…) that authenticate as their account."""


@keys_group.command("create")
@click.option("--account-sid", required=True)
@click.option("--friendly-name", default=None)
@_db
def keys_create(account_sid: str, friendly_name: str | None, database_url: str) -> None:
    """Create an API key; prints {"sid", "secret"}."""
    try:
        result = _with_store(
            database_url, lambda s: accounts.create_key(s, account_sid, friendly_name)
        )
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    _print(result)


@main.group("tokens")
def tokens_group() -> None:
    """Access tokens for the client SDKs (development helper)."""


@tokens_group.command("create")
@click.option("--identity", required=True)
@click.option("--service", "service_sid", required=True, help="IS… of the chat service")
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(1, 24 * 3600))
@click.option("--account-sid", default=None, help="default: the development account")
@click.option("--key-sid", default=None, help="an existing API key (SK…); default: a new one")
@click.option("--key-secret", default=None, help="the secret of --key-sid")
@_db
def tokens_create(
    identity: str,
    service_sid: str,
    ttl: int,
    account_sid: str | None,
    key_sid: str | None,
    key_secret: str | None,
    database_url: str,
) -> None:
    """Print an access token (JWT) for IDENTITY in SERVICE, signed with an API key."""
    from parley.realtime import tokens

    if (key_sid is None) != (key_secret is None):
        raise click.UsageError("--key-sid and --key-secret go together")

    async def make(store: Store) -> str:
        account = account_sid
        if account is None:
            found = await accounts.find_dev_account(store)
            if found is None:
                raise click.ClickException("no development account: pass --account-sid")
            account = found["sid"]
        sid, secret = key_sid, key_secret
        if sid is None or secret is None:
            try:
                key = await accounts.create_key(store, account, "parley tokens create")
            except LookupError as exc:
                raise click.ClickException(str(exc)) from None
            sid, secret = key["sid"], key["secret"]
        return tokens.build(account, sid, secret, identity, service_sid, ttl)

    click.echo(_with_store(database_url, make))


@main.command("export")
@click.option("--account", "account_sid", required=True, help="the account to dump (AC…)")
@_db
def export_command(account_sid: str, database_url: str) -> None:
    """Write an account's whole state as JSON to standard output."""
    from parley.control import state

    async def dump(store: Store) -> dict[str, Any]:
        async with store.read() as tx:
            return await state.export(tx, account_sid)

    try:
        data = _with_store(database_url, dump)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(data, ensure_ascii=False))


@main.command("import")
@click.argument("dump_file", type=click.File("rb"))
@_db
def import_command(dump_file: Any, database_url: str) -> None:
    """Load a state dump (from `parley export`) idempotently: same SIDs, dates, indexes."""
    from parley.control import state

    try:
        data = json.loads(dump_file.read())
        owner = state.check(data)
    except (ValueError, state.DumpError) as exc:
        raise click.ClickException(f"not a dump Parley can load: {exc}") from None
    total = sum(len(rows) for rows in data["tables"].values())

    async def load(store: Store) -> tuple[int, str | None]:
        created = await state.ensure_account(store, owner, data["account"].get("friendly_name"))
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            async with store.write() as tx:
                written = await state.restore(tx, owner, data, lambda table, n: bar.update(n))
        return written, created

    written, token = _with_store(database_url, load)
    click.echo(f"imported {written} rows into {owner}", err=True)
    if token:
        # dumps never carry auth tokens: the new account gets a new one
        click.echo(json.dumps({"sid": owner, "auth_token": token}))


@main.command("reset")
@click.option("--account", "account_sid", default=None, help="only this account (default: all)")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@_db
def reset_command(account_sid: str | None, yes: bool, database_url: str) -> None:
    """Delete every resource (accounts and API keys stay)."""
    from parley.control import state

    if not yes:
        click.confirm(f"Delete every resource of {account_sid or 'every account'}?", abort=True)

    async def reset(store: Store) -> None:
        async with store.write() as tx:
            await state.reset(tx, account_sid)

    _with_store(database_url, reset)
    click.echo(f"reset {account_sid or 'all accounts'}", err=True)


@main.group("sync")
def sync_group() -> None:
    """The Sync view real-time clients read."""


@sync_group.command("rebuild")
@click.option("--account", "account_sid", default=None, help="only this account (default: all)")
@click.option("--service", "service_sid", default=None, help="only this service (IS…)")
@_db
def sync_rebuild(account_sid: str | None, service_sid: str | None, database_url: str) -> None:
    """Rebuild the Sync objects from the stored rows (after loading rows
    directly, or to repair the view); idempotent. Prints one JSON line per
    account: services, objects, events written, objects removed."""
    from dataclasses import asdict

    from parley.domain import services
    from parley.sync import rebuild

    async def run(store: Store) -> list[dict[str, Any]]:
        out = []
        async with store.write() as tx:
            if service_sid is not None:
                service = await services.by_sid(tx, service_sid)
                if service is None or account_sid not in (None, service["account_sid"]):
                    raise click.ClickException(f"no service {service_sid}")
                scope = [str(service["account_sid"])]
            else:
                scope = [account_sid] if account_sid else await rebuild.accounts(tx)
            for account in scope:
                done = await rebuild.rebuild(tx, account, service_sid)
                out.append({"account_sid": account, **asdict(done)})
        return out

    for row in _with_store(database_url, run):
        _print(row)


@main.group("bindings")
def bindings_group() -> None:
    """Push bindings (BS…), as client SDKs register them."""


@bindings_group.command("create")
@click.option("--service", "service_sid", required=True, help="IS… of the service")
@click.option("--identity", required=True, help="the user (created if new)")
@click.option("--binding-type", required=True, type=click.Choice(["apn", "gcm", "fcm"]))
@click.option("--endpoint", required=True, help="the device's endpoint identifier")
@click.option("--credential-sid", default=None, help="CR… push credential of that type")
@click.option(
    "--address",
    default=None,
    help="the device token / registration id pushes go to (default: the endpoint)",
)
@click.option(
    "--message-type",
    "message_types",
    multiple=True,
    type=click.Choice(
        ["new_message", "added_to_channel", "invited_to_channel", "removed_from_channel"]
    ),
    help="repeatable; default all four",
)
@_db
def bindings_create(
    service_sid: str,
    identity: str,
    binding_type: str,
    endpoint: str,
    credential_sid: str | None,
    address: str | None,
    message_types: tuple[str, ...],
    database_url: str,
) -> None:
    """Register a push binding (re-registering the same identity, endpoint and
    type replaces it); prints the binding."""
    from parley import sids
    from parley.domain import bindings, services
    from parley.errors import TwilioError
    from parley.events import Origin

    async def register(store: Store) -> dict[str, Any]:
        async with store.write() as tx:
            service = None
            if sids.looks_like(sids.SERVICE, service_sid):
                service = await services.by_sid(tx, sids.normalise(service_sid))
            if service is None:
                raise click.ClickException(f"no service {service_sid}")
            row = await bindings.register(
                tx,
                service,
                identity,
                endpoint,
                binding_type,
                Origin("system"),
                credential_sid=credential_sid,
                message_types=list(message_types) or None,
                address=address,
            )
            return bindings.describe(row)

    try:
        _print(_with_store(database_url, register))
    except TwilioError as exc:
        raise click.ClickException(exc.message) from None


@main.group("webhooks")
def webhooks_group() -> None:
    """Webhook delivery (post-events from the outbox)."""


@webhooks_group.command("failed")
@click.option("--account", "account_sid", default=None, help="only this account's (AC…)")
@click.option("--limit", default=100, show_default=True, type=int)
@_db
def webhooks_failed(account_sid: str | None, limit: int, database_url: str) -> None:
    """Deliveries that gave up, newest first: one JSON object per line, with
    the last status/error and every attempt (retry, status, latency)."""
    from parley.timefmt import to_webhook
    from parley.webhooks import outbox

    async def load(store: Store) -> list[dict[str, Any]]:
        async with store.read() as tx:
            rows = await outbox.failed(tx, account_sid, limit)
            for row in rows:
                row["attempt_log"] = [
                    {
                        "retry_count": a["retry_count"],
                        "status": a["status"],
                        "error": a["error"],
                        "latency_ms": a["latency_ms"],
                        "at": to_webhook(a["date_created"]),
                    }
                    for a in await outbox.attempts(tx, row["seq"])
                ]
                row["date_created"] = to_webhook(row["date_created"])
                row["date_updated"] = to_webhook(row["date_updated"])
        return rows

    for row in _with_store(database_url, load):
        _print(row)


@main.group("pushes")
def pushes_group() -> None:
    """Push notifications (the push outbox)."""


@pushes_group.command("failed")
@click.option("--account", "account_sid", default=None, help="only this account's (AC…)")
@click.option("--limit", default=100, show_default=True, type=int)
@_db
def pushes_failed(account_sid: str | None, limit: int, database_url: str) -> None:
    """Pushes that gave up, newest first: one JSON object per line, with the
    device, the text, the attempts made and the last status/error."""
    from parley.push import outbox, routes

    async def load(store: Store) -> list[dict[str, Any]]:
        async with store.read() as tx:
            rows = await outbox.listing(
                tx, account_sid, state=outbox.FAILED, limit=limit, newest_first=True
            )
        return [routes.describe(r) for r in rows]

    for row in _with_store(database_url, load):
        _print(row)
