"""The control plane (/parley/v1/…) and the export / import / reset commands."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from parley import accounts
from parley.cli import main
from parley.control import state
from parley.testing import Credentials, ParleyServer

PUBLIC = "http://parley.test"  # both servers render the same URLs


@pytest.fixture
def node(database_url: str) -> Iterator[ParleyServer]:
    with ParleyServer(database_url, public_url=PUBLIC) as server:
        yield server


def _http(server: ParleyServer, creds: Credentials) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token), timeout=30)


def _build_state(http: httpx.Client) -> str:
    sid = http.post("/v2/Services", data={"FriendlyName": "kept"}).json()["sid"]
    http.post(
        f"/v2/Services/{sid}", data={"Limits.ChannelMembers": "7", "WebhookFilters": "onUserAdded"}
    )
    http.post(
        f"/v2/Services/{sid}/Roles",
        data={
            "FriendlyName": "mod",
            "Type": "channel",
            "Permission": ["sendMessage", "leaveChannel"],
        },
    )
    return str(sid)


def _answers(http: httpx.Client, sid: str) -> list[Any]:
    paths = ["/v2/Services", f"/v2/Services/{sid}", f"/v2/Services/{sid}/Roles?PageSize=2"]
    return [http.get(p).json() for p in paths]


def test_reset_isolates_accounts(node: ParleyServer) -> None:
    one, two = node.create_credentials("one"), node.create_credentials("two")
    with _http(node, one) as a, _http(node, two) as b:
        _build_state(a)
        kept = _build_state(b)
        assert a.post("/parley/v1/reset").status_code == 200
        assert a.get("/v2/Services").json()["services"] == []
        assert [s["sid"] for s in b.get("/v2/Services").json()["services"]] == [kept]


def test_dump_reimported_gives_identical_answers(node: ParleyServer, database_url: str) -> None:
    creds = node.create_credentials()
    with _http(node, creds) as http:
        sid = _build_state(http)
        dump = http.get("/parley/v1/state").json()
        before = _answers(http, sid)
    assert {"services", "roles"} <= {t for t, rows in dump["tables"].items() if rows}
    with ParleyServer(public_url=PUBLIC) as empty:
        empty.run(
            accounts.create_account(empty.app.store, "copy", creds.account_sid, creds.auth_token)
        )  # type: ignore[arg-type]
        with _http(empty, creds) as http:
            loaded = http.post("/parley/v1/seed", json=dump)
            assert loaded.status_code == 200, loaded.text
            assert _answers(http, sid) == before
            # idempotent: loading again changes nothing
            http.post("/parley/v1/seed", json=dump)
            assert _answers(http, sid) == before


FULL_SEED = """
credentials:
  - {friendly_name: android, type: fcm, secret: fcm-server-key}
services:
  - friendly_name: kept
    bindings:
      - {identity: alice, endpoint: pixel-7, binding_type: fcm, credential: android}
"""
PNG = bytes(range(256)) * 4  # every byte value: the dump carries media as base64


def _build_full_state(http: httpx.Client) -> tuple[str, str]:
    """Everything a dump holds: returns (service SID, media SID)."""
    sid = _build_state(http)
    seeded = http.post("/parley/v1/seed", content=FULL_SEED, headers=YAML)
    assert seeded.status_code == 200, seeded.text
    base = f"/v2/Services/{sid}"
    http.post(f"{base}/Users", data={"Identity": "carol", "FriendlyName": "Carol"})
    channel = http.post(
        f"{base}/Channels", data={"UniqueName": "general", "Attributes": '{"a":1}'}
    ).json()["sid"]
    http.post(f"{base}/Channels", data={"UniqueName": "other", "Type": "private"})
    for identity in ("alice", "bob"):
        http.post(f"{base}/Channels/{channel}/Members", data={"Identity": identity})
    http.post(f"{base}/Channels/{channel}/Invites", data={"Identity": "carol"})
    for n in range(5):
        http.post(f"{base}/Channels/{channel}/Messages", data={"From": "alice", "Body": f"m{n}"})
    media = http.post(
        f"/v1/Services/{sid}/Media",
        content=PNG,
        headers={"Content-Type": "image/png", "Content-Disposition": 'inline; filename="p.png"'},
    ).json()["sid"]
    sent = http.post(f"{base}/Channels/{channel}/Messages", data={"From": "bob", "MediaSid": media})
    assert sent.status_code == 201, sent.text
    hook = http.post(
        f"{base}/Channels/{channel}/Webhooks",
        data={
            "Type": "webhook",
            "Configuration.Url": "http://hooks.test/in",
            "Configuration.Filters": ["onMessageSent"],
        },
    )
    assert hook.status_code == 201, hook.text
    return sid, media


def _full_answers(http: httpx.Client, sid: str, media: str) -> list[Any]:
    base = f"/v2/Services/{sid}"
    channel = f"{base}/Channels/general"
    paths = [
        *(f"{base}/{p}" for p in ("Users", "Bindings", "Channels", "Roles")),
        f"{base}/Channels?PageSize=1",
        f"{base}/Users/alice",
        f"{base}/Users/alice/Channels",
        f"{base}/Users/carol/Channels",
        channel,
        *(f"{channel}/{p}" for p in ("Members", "Invites", "Webhooks")),
        f"{channel}/Messages?PageSize=2",
        f"{channel}/Messages?Order=desc",
        f"{channel}/Messages/5",
        "/v2/Credentials",
        f"/v1/Services/{sid}/Media/{media}",
    ]
    answers = [http.get(p).json() for p in paths]
    content = http.get(f"/v1/Services/{sid}/Media/{media}/Content")
    return [*answers, content.headers["content-type"], content.content]


def test_full_dump_reimported_gives_identical_answers(node: ParleyServer) -> None:
    creds = node.create_credentials()
    with _http(node, creds) as http:
        sid, media = _build_full_state(http)
        dump = http.get("/parley/v1/state").json()
        before = _full_answers(http, sid, media)
    assert before[-1] == PNG
    assert all(dump["tables"][table] for table in state.TABLES), "every table has rows"
    # credentials come back without their key material (sealed secrets stay out)
    assert all("secrets" not in row for row in dump["tables"]["credentials"])
    assert "fcm-server-key" not in json.dumps(dump)
    with ParleyServer(public_url=PUBLIC) as empty:
        empty.run(
            accounts.create_account(empty.app.store, "copy", creds.account_sid, creds.auth_token)
        )  # type: ignore[arg-type]
        with _http(empty, creds) as http:
            loaded = http.post("/parley/v1/seed", json=dump)
            assert loaded.status_code == 200, loaded.text
            assert _full_answers(http, sid, media) == before
            http.post("/parley/v1/seed", json=dump)
            assert _full_answers(http, sid, media) == before
            # the copy keeps working: the next message takes the next index
            new = http.post(
                f"/v2/Services/{sid}/Channels/general/Messages", data={"Body": "after"}
            ).json()
            assert new["index"] == 6


def test_another_accounts_dump_is_refused(node: ParleyServer) -> None:
    one, two = node.create_credentials("one"), node.create_credentials("two")
    with _http(node, one) as a, _http(node, two) as b:
        _build_state(a)
        dump = a.get("/parley/v1/state").json()
        refused = b.post("/parley/v1/seed", json=dump)
        assert refused.status_code == 400
        assert refused.json()["code"] == 20001 and "another account" in refused.json()["message"]
        assert b.get("/v2/Services").json()["services"] == []
        assert b.get("/parley/v1/state").json()["tables"]["services"] == []


SEED = """
credentials:
  - {friendly_name: android, type: fcm, secret: fcm-server-key}
services:
  - friendly_name: Support
    reachability_enabled: true
    limits_channel_members: 20
    roles:
      - {friendly_name: moderator, type: channel, permissions: [sendMessage, deleteAnyMessage]}
    users:
      - identity: alice
        friendly_name: Alice
        attributes: {tier: gold}
      - identity: bob
    channels:
      - unique_name: general
        friendly_name: General
        type: private
        attributes: {topic: help}
        created_by: alice
        members:
          - alice
          - {identity: bob, role: moderator, attributes: {desk: 2}}
          - dave
        invites:
          - {identity: carol, role: moderator}
          - alice
        messages:
          - {from: alice, body: Hello, attributes: {pinned: true}}
          - {from: bob, body: Hi alice}
      - unique_name: empty
    bindings:
      - {identity: alice, endpoint: pixel-7, binding_type: fcm, credential: android}
"""
SEEDED = {
    "credentials": 1,
    "services": 1,
    "roles": 1,
    "users": 2,
    "bindings": 1,
    "channels": 2,
    "members": 3,
    "invites": 1,
    "messages": 2,
}
YAML = {"Content-Type": "application/yaml"}


def test_yaml_seed_is_idempotent(node: ParleyServer) -> None:
    creds = node.create_credentials()
    with _http(node, creds) as http:
        first = http.post("/parley/v1/seed", content=SEED, headers=YAML)
        assert first.status_code == 200, first.text
        assert first.json()["seeded"] == SEEDED
        state = http.get("/parley/v1/state").json()["tables"]
        again = http.post("/parley/v1/seed", content=SEED, headers=YAML)
        assert again.json()["seeded"] == dict.fromkeys(SEEDED, 0)
        assert http.get("/parley/v1/state").json()["tables"] == state
        [service] = http.get("/v2/Services").json()["services"]
        assert (
            service["reachability_enabled"] is True and service["limits"]["channel_members"] == 20
        )
        users = {u["identity"]: u for u in state["users"]}
        assert users["alice"]["attributes"] == '{"tier":"gold"}'
        assert set(users) == {"alice", "bob", "carol", "dave"}  # members/invites made users
        bad = http.post("/parley/v1/seed", content="services: [{colour: red}]", headers=YAML)
        assert bad.status_code == 400 and "unknown keys" in bad.json()["message"]


def test_seeded_channel_reads_back_through_rest(node: ParleyServer) -> None:
    creds = node.create_credentials()
    with _http(node, creds) as http:
        assert http.post("/parley/v1/seed", content=SEED, headers=YAML).status_code == 200
        [service] = http.get("/v2/Services").json()["services"]
        base = f"/v2/Services/{service['sid']}/Channels/general"
        channel = http.get(base).json()
        assert (channel["type"], channel["created_by"], channel["friendly_name"]) == (
            "private",
            "alice",
            "General",
        )
        assert (channel["members_count"], channel["messages_count"]) == (3, 2)
        assert json.loads(channel["attributes"]) == {"topic": "help"}
        roles = http.get(f"/v2/Services/{service['sid']}/Roles").json()["roles"]
        moderator = next(r["sid"] for r in roles if r["friendly_name"] == "moderator")
        members = {m["identity"]: m for m in http.get(f"{base}/Members").json()["members"]}
        assert members["bob"]["role_sid"] == moderator
        assert members["alice"]["role_sid"] == service["default_channel_role_sid"]
        [invite] = http.get(f"{base}/Invites").json()["invites"]
        assert (invite["identity"], invite["role_sid"]) == ("carol", moderator)
        listed = http.get(f"{base}/Messages").json()["messages"]
        assert [(m["index"], m["from"], m["body"]) for m in listed] == [
            (0, "alice", "Hello"),
            (1, "bob", "Hi alice"),
        ]
        [binding] = http.get(f"/v2/Services/{service['sid']}/Bindings").json()["bindings"]
        assert (binding["identity"], binding["endpoint"]) == ("alice", "pixel-7")
        [credential] = http.get("/v2/Credentials").json()["credentials"]
        assert binding["credential_sid"] == credential["sid"]
        # messages are keyed by index: appended entries are added, the others kept
        more = SEED.replace(
            "          - {from: bob, body: Hi alice}\n",
            "          - {from: bob, body: Hi alice}\n          - {from: dave, body: Third}\n",
        )
        added = http.post("/parley/v1/seed", content=more, headers=YAML).json()["seeded"]
        assert added == {**dict.fromkeys(SEEDED, 0), "messages": 1}
        listed = http.get(f"{base}/Messages").json()["messages"]
        assert [m["body"] for m in listed] == ["Hello", "Hi alice", "Third"]


def test_seed_error_names_the_entry_and_stores_nothing(node: ParleyServer) -> None:
    creds = node.create_credentials()
    broken = SEED.replace("role: moderator, attributes", "role: nobody, attributes")
    with _http(node, creds) as http:
        refused = http.post("/parley/v1/seed", content=broken, headers=YAML)
        assert refused.status_code == 400
        assert "services[0].channels[0].members[1]" in refused.json()["message"]
        assert http.get("/parley/v1/state").json()["tables"]["services"] == []


def test_admin_token_resets_everything(database_url: str) -> None:
    with ParleyServer(database_url, admin_token="s3cret") as server:
        creds = server.create_credentials()
        with _http(server, creds) as http:
            _build_state(http)
            denied = http.post("/parley/v1/reset", params={"all": "true"})
            assert denied.status_code == 403
            ok = httpx.post(
                f"{server.url}/parley/v1/reset",
                params={"all": "true"},
                headers={"Authorization": "Bearer s3cret"},
            )
            assert ok.status_code == 200
            assert http.get("/v2/Services").json()["services"] == []


def test_control_plane_is_absent_unless_enabled(database_url: str) -> None:
    with ParleyServer(database_url, control_plane=False) as server:
        creds = server.create_credentials()
        with _http(server, creds) as http:
            response = http.get("/parley/v1/state")
            assert response.status_code == 404 and response.json()["code"] == 20404
        assert httpx.get(f"{server.url}/parley/v1/state").status_code == 401


def test_cli_export_import_round_trip(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    target = f"sqlite:///{tmp_path / 'b.db'}"
    with ParleyServer(source, public_url=PUBLIC) as server:
        creds = server.create_credentials()
        with _http(server, creds) as http:
            sid, media = _build_full_state(http)
            before = _full_answers(http, sid, media)
    runner = CliRunner()
    exported = runner.invoke(
        main, ["export", "--account", creds.account_sid, "--database-url", source]
    )
    assert exported.exit_code == 0, exported.output
    dump_file = tmp_path / "state.json"
    dump_file.write_text(exported.output)
    imported = runner.invoke(main, ["import", str(dump_file), "--database-url", target])
    assert imported.exit_code == 0, imported.output
    new = json.loads(imported.stdout.strip().splitlines()[-1])
    assert new["sid"] == creds.account_sid
    with ParleyServer(target, public_url=PUBLIC) as server:
        fresh = Credentials(creds.account_sid, new["auth_token"], "", "")
        with _http(server, fresh) as http:
            assert _full_answers(http, sid, media) == before
    reset = runner.invoke(
        main, ["reset", "--yes", "--account", creds.account_sid, "--database-url", target]
    )
    assert reset.exit_code == 0
    again = runner.invoke(
        main, ["export", "--account", creds.account_sid, "--database-url", target]
    )
    assert json.loads(again.output)["tables"]["services"] == []
