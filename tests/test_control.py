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
"""


def test_yaml_seed_is_idempotent(node: ParleyServer) -> None:
    creds = node.create_credentials()
    with _http(node, creds) as http:
        headers = {"Content-Type": "application/yaml"}
        first = http.post("/parley/v1/seed", content=SEED, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["seeded"] == {"services": 1, "roles": 1, "users": 2}
        state = http.get("/parley/v1/state").json()["tables"]
        again = http.post("/parley/v1/seed", content=SEED, headers=headers)
        assert again.json()["seeded"] == {"services": 0, "roles": 0, "users": 0}
        assert http.get("/parley/v1/state").json()["tables"] == state
        [service] = http.get("/v2/Services").json()["services"]
        assert (
            service["reachability_enabled"] is True and service["limits"]["channel_members"] == 20
        )
        users = {u["identity"]: u for u in state["users"]}
        assert users["alice"]["attributes"] == '{"tier":"gold"}'
        bad = http.post("/parley/v1/seed", content="services: [{colour: red}]", headers=headers)
        assert bad.status_code == 400 and "unknown keys" in bad.json()["message"]


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
            sid = _build_state(http)
            before = _answers(http, sid)
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
            assert _answers(http, sid) == before
    reset = runner.invoke(
        main, ["reset", "--yes", "--account", creds.account_sid, "--database-url", target]
    )
    assert reset.exit_code == 0
    again = runner.invoke(
        main, ["export", "--account", creds.account_sid, "--database-url", target]
    )
    assert json.loads(again.output)["tables"]["services"] == []
