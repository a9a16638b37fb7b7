"""The real npm twilio-chat in Node against a real Parley: 6.0.0 and 5.0.2
(protocol version 1) and 4.1.x, 3.4.x and 2.x (version 2, the session list:
docs/realtime-protocol.md §9), through one scenario file.

Skipped when Node or ``tests/node/node_modules`` (``npm ci``) is missing, except
under CI=true, where it must run.
"""

import asyncio
import contextlib
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from parley import accounts, sids
from parley.domain import services
from parley.store import open_store
from tests.conftest import Account, Server, fresh_database, make_client, start_server
from tests.realtime.helpers import make_key, token
from tests.webhooks.receiver import Received, Receiver, Reply

HERE = Path(__file__).resolve().parent
LOOPBACK = ipaddress.ip_address("127.0.0.1")
NODE = shutil.which("node")
READY = NODE is not None and (HERE / "node_modules" / "twilio-chat").is_dir()

if not READY and os.environ.get("CI") != "true":
    pytest.skip("node or tests/node/node_modules missing (make node-deps)", allow_module_level=True)

# tests/node/package.json: 6.0.0, 5.0.2, 4.1.x, 3.4.x, 2.x
PACKAGES = ["twilio-chat", "twilio-chat-5", "twilio-chat-4", "twilio-chat-3", "twilio-chat-2"]


def _run_scenarios(
    server: Server,
    account: Account,
    service_sid: str,
    tokens: dict[str, str],
    unique: str,
    *args: str,
    extra: dict[str, str] | None = None,
) -> None:
    """``node scenarios.js <package> [which]`` against this server; every step must pass."""
    assert NODE is not None
    env = {
        **os.environ,
        **(extra or {}),
        "PARLEY_WS": server.url.replace("http://", "ws://") + "/v3/wsconnect",
        "PARLEY_REST": server.url,
        "PARLEY_ACCOUNT_SID": account.sid,
        "PARLEY_AUTH_TOKEN": account.auth_token,
        "PARLEY_SERVICE_SID": service_sid,
        "PARLEY_TOKENS": json.dumps(tokens),
        "PARLEY_UNIQUE": unique,
    }
    done = _node(env, "scenarios.js", *args, timeout=120)
    assert "ok done" in done.stdout


def _node(env: dict[str, str], *args: str, timeout: float) -> "subprocess.CompletedProcess[str]":
    """``node <args>`` in tests/node; it must exit 0."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, *args], cwd=HERE, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.parametrize("package", PACKAGES)
def test_scenarios(server: Server, account: Account, service: Any, package: str) -> None:
    assert READY, "CI=true: Node and `npm ci` in tests/node are required"
    key = make_key(server, account.sid)
    tokens = {
        "alice": token(account.sid, key, "alice", service.sid),
        "bob": token(account.sid, key, "bob", service.sid),
        "alice_refreshed": token(account.sid, key, "alice", service.sid, ttl=7200),
        "alice_forged": token(account.sid, {**key, "secret": "z" * 40}, "alice", service.sid),
    }
    _run_scenarios(server, account, service.sid, tokens, f"general-{package}", package)


def _hook_reply(item: Received) -> Reply:
    """The service's webhook receiver: pre-events can refuse or rewrite a message."""
    if item.params.get("EventType") == "onMessageSend":
        if item.params.get("Body") == "reject me":
            return 403
        if item.params.get("Body") == "rewrite me":
            return (200, json.dumps({"body": "rewritten by the hook"}).encode())
    return 200


@pytest.mark.parametrize("package", PACKAGES)
def test_webhooks_reachability_push_and_isolation(
    server: Server, account: Account, client: Any, make_service: Any, package: str
) -> None:
    """The rest of the issue's SDK scenarios: pre-event reject and modify, a
    post-event for a client action (Source=SDK), reachability on and off, push
    registration as a Binding, and a client of another service seeing nothing."""
    assert READY and NODE is not None
    service, elsewhere = make_service("hooked"), make_service("elsewhere")
    receiver = Receiver().start()
    receiver.reply = _hook_reply
    try:
        client.chat.v2.services(service.sid).update(
            pre_webhook_url=receiver.url("/pre"),
            post_webhook_url=receiver.url("/post"),
            webhook_filters=["onMessageSend", "onMessageSent"],
            reachability_enabled=True,
        )
        key = make_key(server, account.sid)
        tokens = {
            "alice": token(account.sid, key, "alice", service.sid),
            "bob": token(account.sid, key, "bob", service.sid),
            "carol_elsewhere": token(account.sid, key, "carol", elsewhere.sid),
        }
        _run_scenarios(server, account, service.sid, tokens, f"hooked-{package}", package, "hooks")
        [sent] = receiver.wait_for(1, where=lambda r: r.params.get("EventType") == "onMessageSent")
        assert sent.path == "/post" and sent.params["Source"] == "SDK"
        assert sent.params["ClientIdentity"] == "alice"
        assert sent.params["Body"] == "rewritten by the hook"
        assert sent.valid_for(account.auth_token, receiver.url("/post"))
        stored = client.chat.v2.services(service.sid).channels(f"hooked-{package}").messages.list()
        assert [m.body for m in stored] == ["rewritten by the hook"]
    finally:
        receiver.stop()


@pytest.mark.parametrize("package", PACKAGES)
def test_a_client_survives_a_parley_restart(tmp_path: Path, package: str) -> None:
    assert READY and NODE is not None
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    first = start_server(url)
    port = int(first.url.rsplit(":", 1)[1])
    assert first.app.store is not None
    acct = first.run(accounts.create_account(first.app.store, "restart"))
    key = first.run(accounts.create_key(first.app.store, acct["sid"]))
    svc = make_client(first, acct["sid"], acct["auth_token"]).chat.v2.services.create(
        friendly_name="restart"
    )
    env = {
        **os.environ,
        "PARLEY_WS": first.url.replace("http://", "ws://") + "/v3/wsconnect",
        "PARLEY_TOKENS": json.dumps({"alice": token(acct["sid"], key, "alice", svc.sid)}),
        "PARLEY_UNIQUE": "restart",
    }
    second = None
    with subprocess.Popen(
        [NODE, "restart.js", package],
        cwd=HERE,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as node:
        try:
            assert node.stdout is not None and node.stdin is not None
            seen = []  # with PARLEY_NODE_LOG=debug the SDK logs to stdout too
            while not (ready := node.stdout.readline()).startswith("ok ready-for-restart"):
                assert ready, "".join(seen)
                seen.append(ready)
            channel_sid = ready.split()[-1]
            first.stop()  # the client is offloaded (308) and starts reconnecting
            second = start_server(url, port=port)
            rest = make_client(second, acct["sid"], acct["auth_token"])
            rest.chat.v2.services(svc.sid).channels(channel_sid).messages.create(
                body="while away", from_="bob"
            )
            with contextlib.suppress(BrokenPipeError):  # node may have failed already
                node.stdin.write("go\n")
                node.stdin.flush()
            out, _ = node.communicate(timeout=60)
            assert node.returncode == 0, ready + out
            assert "ok done" in out
        finally:
            if node.poll() is None:
                node.kill()
            if second is not None:
                second.stop()


def _certificate(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (its own trust anchor) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parley test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(LOOPBACK)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("package", ["twilio-chat-4", "twilio-chat-3", "twilio-chat-2"])
def test_version_2_sdks_send_media_behind_https(tmp_path: Path, package: str) -> None:
    """docs/realtime-protocol.md §9.6: with an HTTPS public URL the session
    context's mediaServiceUrl ("@host/…") turns the media client's fixed
    https://mcs.us1.twilio.com into Parley, and the SDK uploads and sends itself."""
    assert READY and NODE is not None
    cert, key_file = _certificate(tmp_path)
    running = start_server(f"sqlite:///{tmp_path / 'tls.db'}", tls=(cert, key_file))
    try:
        assert running.app.store is not None
        acct = running.run(accounts.create_account(running.app.store, "tls"))
        key = running.run(accounts.create_key(running.app.store, acct["sid"]))

        async def service() -> str:
            assert running.app.store is not None
            async with running.app.store.write() as tx:
                return str((await services.create(tx, acct["sid"], "tls"))["sid"])

        svc = running.run(service())
        env = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": cert,
            "PARLEY_WS": running.url.replace("https://", "wss://") + "/v3/wsconnect",
            "PARLEY_REST": running.url,
            "PARLEY_ACCOUNT_SID": acct["sid"],
            "PARLEY_AUTH_TOKEN": acct["auth_token"],
            "PARLEY_SERVICE_SID": svc,
            "PARLEY_TOKENS": json.dumps(
                {who: token(acct["sid"], key, who, svc) for who in ("alice", "bob")}
            ),
            "PARLEY_UNIQUE": f"tls-{package}",
        }
        done = _node(env, "scenarios.js", package, "media", timeout=120)
        assert "ok media message" in done.stdout
    finally:
        running.stop()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("package", ["twilio-chat", "twilio-chat-5"])
def test_typing_and_reachability_across_two_processes(tmp_path: Path, package: str) -> None:
    """Two ``parley serve`` on one PostgreSQL and one Redis: the SDK on one
    node sees typingStarted and userUpdated from a client on the other."""
    from tests.test_cluster import _redis_or_skip, start_node, stop_node

    assert READY and NODE is not None
    _redis_or_skip()
    account_sid = sids.new_sid(sids.ACCOUNT)
    auth = secrets.token_hex(16)
    with fresh_database("postgres", tmp_path) as url:
        nodes = [start_node(url, account_sid, auth)]
        try:
            nodes.append(start_node(url, account_sid, auth))

            class _At:
                url = nodes[0].url

            rest = make_client(_At(), account_sid, auth)  # type: ignore[arg-type]
            svc = rest.chat.v2.services.create(friendly_name="cluster")
            rest.chat.v2.services(svc.sid).update(reachability_enabled=True)
            key = asyncio.run(_cluster_key(url, account_sid))
            tokens = {who: token(account_sid, key, who, svc.sid) for who in ("alice", "bob")}
            ws = [n.url.replace("http://", "ws://") + "/v3/wsconnect" for n in nodes]
            _run_scenarios(
                _At(),  # type: ignore[arg-type]
                Account(account_sid, auth),
                svc.sid,
                tokens,
                f"cluster-{package}",
                package,
                "cluster",
                extra={"PARLEY_WS_B": ws[1]},
            )
        finally:
            for node in nodes:
                stop_node(node)


async def _cluster_key(url: str, account_sid: str) -> dict[str, str]:
    store = await open_store(url)
    try:
        return await accounts.create_key(store, account_sid)
    finally:
        await store.close()


# docs/realtime-protocol.md §9: what each session-list generation asks first
LEGACY_FIRST_REQUEST = {
    "twilio-chat-4": ("POST", "/v3/Lists", "com.twilio.rtd.ipmsg"),
    "twilio-chat-3": ("POST", "/v3/Lists", "com.twilio.rtd.ipmsg"),
    "twilio-chat-2": ("POST", "/v1/token", "fpa_token"),
}


@pytest.fixture(scope="module")
def legacy_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One SQLite Parley and a token for the probe (the engine does not matter
    to what the old SDKs send first)."""
    running = start_server(f"sqlite:///{tmp_path_factory.mktemp('legacy') / 'probe.db'}")
    assert running.app.store is not None
    acct = running.run(accounts.create_account(running.app.store, "legacy"))
    key = running.run(accounts.create_key(running.app.store, acct["sid"]))
    svc = make_client(running, acct["sid"], acct["auth_token"]).chat.v2.services.create(
        friendly_name="legacy"
    )
    yield running, token(acct["sid"], key, "alice", svc.sid)
    running.stop()


@pytest.mark.parametrize("package", sorted(LEGACY_FIRST_REQUEST))
def test_the_legacy_probe_shows_each_old_sdks_first_request(
    legacy_target: tuple[Server, str], package: str
) -> None:
    """probe-legacy.js (a research tool) still runs and sees what
    docs/realtime-protocol.md §9 says these versions send first; whether they
    work is test_scenarios' question."""
    assert READY and NODE is not None
    server, alice = legacy_target
    env = {
        **os.environ,
        "PARLEY_WS": server.url.replace("http://", "ws://") + "/v3/wsconnect",
        "PARLEY_TOKEN": alice,
    }
    done = _node(env, "probe-legacy.js", package, "1.5", timeout=60)
    lines = done.stdout.splitlines()
    assert any(" >> init " in line for line in lines), done.stdout
    method, path, marker = LEGACY_FIRST_REQUEST[package]
    [first] = [line for line in lines if " >> message " in line][:1]
    assert f" {method} " in first and path in first and marker in first, done.stdout
