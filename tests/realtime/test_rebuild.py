"""The Sync view of rows written without domain events (a loaded state dump):
``parley.sync.rebuild`` builds it, so a connected client sees imported
channels and messages, and building it again changes nothing."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from parley import accounts
from parley.cli import main
from parley.sync.rebuild import rebuild
from parley.testing import Credentials, ParleyServer
from tests.realtime.helpers import Twilsock, make_key, token

PUBLIC = "http://parley.test"  # both servers render the same URLs
PNG = bytes(range(256))


def _http(server: ParleyServer, creds: Credentials) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=(creds.account_sid, creds.auth_token), timeout=30)


def _build(http: httpx.Client) -> tuple[str, str]:
    """A service with a channel (alice, bob; carol invited), messages and a
    media message; returns (service SID, channel SID)."""
    sid = http.post("/v2/Services", data={"FriendlyName": "imported"}).json()["sid"]
    base = f"/v2/Services/{sid}"
    http.post(f"{base}/Users", data={"Identity": "carol", "FriendlyName": "Carol"})
    channel = http.post(f"{base}/Channels", data={"UniqueName": "general"}).json()["sid"]
    http.post(f"{base}/Channels", data={"UniqueName": "secret", "Type": "private"})
    for identity in ("alice", "bob"):
        http.post(f"{base}/Channels/{channel}/Members", data={"Identity": identity})
    http.post(f"{base}/Channels/{channel}/Invites", data={"Identity": "carol"})
    sent = [
        http.post(
            f"{base}/Channels/{channel}/Messages", data={"From": "alice", "Body": f"m{n}"}
        ).json()["sid"]
        for n in range(3)
    ]
    edited = http.post(f"{base}/Channels/{channel}/Messages/{sent[1]}", data={"Body": "edited"})
    assert edited.status_code == 200, edited.text
    assert http.delete(f"{base}/Channels/{channel}/Messages/{sent[0]}").status_code == 204
    media = http.post(
        f"/v1/Services/{sid}/Media",
        content=PNG,
        headers={"Content-Type": "image/png", "Content-Disposition": 'inline; filename="p.png"'},
    ).json()["sid"]
    made = http.post(f"{base}/Channels/{channel}/Messages", data={"From": "bob", "MediaSid": media})
    assert made.status_code == 201, made.text
    return sid, channel


def _view(server: ParleyServer, service_sid: str) -> dict[tuple[str, str], Any]:
    """Every Sync object of the service by (type, unique name): its data, or
    its items' data by key (event ids and item dates left out)."""

    async def read() -> dict[tuple[str, str], Any]:
        assert server.app.store is not None
        out: dict[tuple[str, str], Any] = {}
        async with server.app.store.read() as tx:
            objects = await tx.all(
                "SELECT * FROM sync_objects WHERE service_sid = :s", {"s": service_sid}
            )
            for obj in objects:
                rows = await tx.all(
                    "SELECT item_key, data FROM sync_items WHERE object_sid = :o", {"o": obj["sid"]}
                )
                content = {r["item_key"]: orjson.loads(r["data"]) for r in rows}
                if obj["type"] == "document":
                    content = orjson.loads(obj["data"])
                out[(obj["type"], obj["unique_name"])] = content
        return out

    result: dict[tuple[str, str], Any] = server.run(read())
    return result


def _events(server: ParleyServer) -> int:
    async def count() -> int:
        assert server.app.store is not None
        async with server.app.store.read() as tx:
            row = await tx.one("SELECT COUNT(*) AS n FROM sync_events", {})
            return int(row["n"]) if row else 0

    result: int = server.run(count())
    return result


def _rebuild(server: ParleyServer, account_sid: str) -> Any:
    async def run() -> Any:
        assert server.app.store is not None
        async with server.app.store.write() as tx:
            return await rebuild(tx, account_sid)

    return server.run(run())


@pytest.fixture
def source(database_url: str) -> Iterator[ParleyServer]:
    with ParleyServer(database_url, public_url=PUBLIC) as server:
        yield server


def test_an_imported_channel_reaches_a_connected_client(source: ParleyServer) -> None:
    creds = source.create_credentials()
    with _http(source, creds) as http:
        service, channel = _build(http)
        dump = http.get("/parley/v1/state").json()
    projected = _view(source, service)
    # the projector's view of REST writes is what a rebuild computes: nothing to change
    assert _rebuild(source, creds.account_sid).events == 0

    with ParleyServer(public_url=PUBLIC) as empty:
        empty.run(
            accounts.create_account(empty.app.store, "copy", creds.account_sid, creds.auth_token)
        )
        fresh = creds
        with _http(empty, fresh) as http:
            loaded = http.post("/parley/v1/seed", json=dump)
            assert loaded.status_code == 200, loaded.text
        assert _view(empty, service) == projected

        sock = Twilsock(empty)  # type: ignore[arg-type]
        try:
            key = make_key(empty, fresh.account_sid)  # type: ignore[arg-type]
            sock.init(token(fresh.account_sid, key, "alice", service))
            users = {u["identity"]: u for u in dump["tables"]["users"]}
            alice = users["alice"]["sid"]
            status, mine = sock.request(
                "GET", f"/v3/Maps/{alice}.channels/Items", params={"PageSize": "10"}
            )
            assert status == 200, mine
            [item] = mine["items"]
            assert item["key"] == channel and item["data"]["status"] == "joined"
            assert item["data"]["uniqueName"] == "general"
            status, doc = sock.request("GET", f"/v3/Documents/{channel}.channel")
            assert status == 200 and doc["data"]["lastMessage"]["index"] == 3
            status, listed = sock.request("GET", f"/v3/Lists/{channel}.messages/Items")
            assert status == 200, listed
            got = [(i["index"], i["data"]["text"], i["data"]["type"]) for i in listed["items"]]
            assert got == [(1, "edited", "text"), (2, "m2", "text"), (3, None, "media")]
            media = listed["items"][-1]["data"]["media"]
            assert media["contentType"] == "image/png" and media["filename"] == "p.png"
            assert listed["items"][-1]["data"]["memberSid"].startswith("MB")
            # carol, who was invited, sees the invitation
            carol = Twilsock(empty)  # type: ignore[arg-type]
            try:
                carol.init(token(fresh.account_sid, key, "carol", service))
                carol_sid = users["carol"]["sid"]
                status, hers = carol.request("GET", f"/v3/Maps/{carol_sid}.channels/Items")
                assert [i["data"]["status"] for i in hers["items"]] == ["invited"]
            finally:
                carol.close()
        finally:
            sock.close()

        # idempotent: loading again or rebuilding writes no Sync event
        before = _events(empty)
        with _http(empty, fresh) as http:
            assert http.post("/parley/v1/seed", json=dump).status_code == 200
        assert _rebuild(empty, fresh.account_sid).events == 0
        assert _events(empty) == before


def test_rebuild_repairs_the_view_and_removes_what_no_row_explains(
    source: ParleyServer,
) -> None:
    creds = source.create_credentials()
    with _http(source, creds) as http:
        service, _ = _build(http)
        projected = _view(source, service)
        dump = http.get("/parley/v1/state").json()
        # a reset takes the account's view with it; loading the dump back rebuilds it
        assert http.post("/parley/v1/reset").status_code == 200
        assert _view(source, service) == {}
        assert _rebuild(source, creds.account_sid).removed == 0
        assert http.post("/parley/v1/seed", json=dump).status_code == 200
        assert _view(source, service) == projected
    # rows gone without events (written around Parley): no row explains the objects
    assert source.app.store is not None
    source.run(_delete_service(source.app.store, service))
    assert _rebuild(source, creds.account_sid).removed == len(projected)
    assert _view(source, service) == {}


async def _delete_service(store: Any, service_sid: str) -> None:
    async with store.write() as tx:
        await tx.run("DELETE FROM services WHERE sid = :s", {"s": service_sid})


def test_cli_import_builds_the_view_and_sync_rebuild_is_idempotent(
    source: ParleyServer, tmp_path: Path
) -> None:
    creds = source.create_credentials()
    with _http(source, creds) as http:
        service, _ = _build(http)
        dump = http.get("/parley/v1/state").json()
    projected = _view(source, service)
    target = f"sqlite:///{tmp_path / 'b.db'}"
    dump_file = tmp_path / "state.json"
    dump_file.write_bytes(orjson.dumps(dump))
    runner = CliRunner()
    imported = runner.invoke(main, ["import", str(dump_file), "--database-url", target])
    assert imported.exit_code == 0, imported.output
    again = runner.invoke(
        main, ["sync", "rebuild", "--account", creds.account_sid, "--database-url", target]
    )
    assert again.exit_code == 0, again.output
    report = orjson.loads(again.stdout.strip().splitlines()[-1])
    assert report["account_sid"] == creds.account_sid
    assert (report["services"], report["events"], report["removed"]) == (1, 0, 0)
    assert report["objects"] == len(projected)
    # every account, or one service; an unknown service is refused
    everything = runner.invoke(main, ["sync", "rebuild", "--database-url", target])
    assert everything.exit_code == 0, everything.output
    assert [orjson.loads(line)["events"] for line in everything.stdout.splitlines()] == [0]
    one = runner.invoke(main, ["sync", "rebuild", "--service", service, "--database-url", target])
    assert one.exit_code == 0 and orjson.loads(one.stdout)["services"] == 1
    unknown = runner.invoke(
        main, ["sync", "rebuild", "--service", "IS" + "0" * 32, "--database-url", target]
    )
    assert unknown.exit_code != 0 and "no service" in unknown.output
    with ParleyServer(target, public_url=PUBLIC) as server:
        assert _view(server, service) == projected
