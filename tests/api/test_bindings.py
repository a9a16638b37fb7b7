"""Binding and User Binding resources through the official SDK (docs/behaviour.md §R10).

Bindings are registered the way a client SDK will (``domain.bindings.register``),
then read and deleted through REST.
"""

from typing import Any

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from parley.errors import TwilioError
from tests.conftest import Server
from tests.helpers import captured_events, register_binding

ALL_TYPES = ["new_message", "added_to_channel", "invited_to_channel", "removed_from_channel"]


def test_service_binding_fields(server: Server, client: Client, service: Any) -> None:
    made = register_binding(server, service.sid, "alice", "endpoint-1", "apn")
    binding = client.chat.v2.services(service.sid).bindings(made["sid"]).fetch()
    user = client.chat.v2.services(service.sid).users("alice").fetch()
    assert binding.sid.startswith("BS") and binding.identity == "alice"
    assert (binding.endpoint, binding.binding_type) == ("endpoint-1", "apn")
    assert binding.credential_sid is None and binding.message_types == ALL_TYPES
    assert binding.date_created is not None and binding.date_updated is None
    base = f"{client.chat.base_url}/v2/Services/{service.sid}"
    assert binding.url == f"{base}/Bindings/{made['sid']}"
    # links.user carries the identity, not the SID (docs/behaviour.md §R1)
    assert binding.links == {"user": f"{base}/Users/alice"}
    # registering created the user with the service defaults
    assert user.role_sid == service.default_service_role_sid


def test_user_binding_fields(server: Server, client: Client, service: Any) -> None:
    made = register_binding(server, service.sid, "bob", "endpoint-1", "gcm")
    users = client.chat.v2.services(service.sid).users
    user = users("bob").fetch()
    for key in ("bob", user.sid):  # by identity or SID (docs/decisions.md §18)
        binding = users(key).user_bindings(made["sid"]).fetch()
        assert binding.user_sid == user.sid and binding.binding_type == "gcm"
        assert binding.url == (
            f"{client.chat.base_url}/v2/Services/{service.sid}/Users/{user.sid}"
            f"/Bindings/{made['sid']}"
        )
    assert [b.sid for b in users("bob").user_bindings.list()] == [made["sid"]]


def test_list_filters(server: Server, client: Client, service: Any) -> None:
    a = register_binding(server, service.sid, "carol", "e1", "apn")
    b = register_binding(server, service.sid, "carol", "e2", "fcm")
    c = register_binding(server, service.sid, "dave", "e3", "gcm")
    d = register_binding(server, service.sid, "erin", "e4", "fcm")
    bindings = client.chat.v2.services(service.sid).bindings

    def sids(**kwargs: Any) -> list[str]:
        return [x.sid for x in bindings.list(**kwargs)]

    assert sids() == [a["sid"], b["sid"], c["sid"], d["sid"]]
    assert sids(binding_type=["fcm"]) == [b["sid"], d["sid"]]
    assert sids(binding_type=["apn", "gcm"]) == [a["sid"], c["sid"]]
    assert sids(identity=["carol"]) == [a["sid"], b["sid"]]
    assert sids(identity=["carol", "erin"], binding_type=["fcm"]) == [b["sid"], d["sid"]]
    assert sids(identity=["nobody"]) == []
    user_bindings = client.chat.v2.services(service.sid).users("carol").user_bindings
    assert [x.sid for x in user_bindings.list(binding_type=["apn"])] == [a["sid"]]
    assert [x.sid for x in bindings.list(page_size=1, limit=3)] == [a["sid"], b["sid"], c["sid"]]


def test_invalid_binding_type_filter(client: Client, service: Any) -> None:
    # the SDK raises a plain TwilioException for a list page that is not a 200
    with pytest.raises(TwilioException, match='"code":50209'):
        client.chat.v2.services(service.sid).bindings.list(binding_type=["sms"])
    with pytest.raises(TwilioException, match='"code":50209'):
        client.chat.v2.services(service.sid).users("x").user_bindings.list(binding_type=["x"])


def test_delete_either_path(server: Server, client: Client, service: Any) -> None:
    a = register_binding(server, service.sid, "frank", "e1")
    b = register_binding(server, service.sid, "frank", "e2")
    svc = client.chat.v2.services(service.sid)
    with captured_events(server) as events:
        svc.bindings(a["sid"]).delete()
        svc.users("frank").user_bindings(b["sid"]).delete()
    assert [e.kind for e in events] == ["parley.binding.deleted"] * 2
    assert events[0].payload["sid"] == a["sid"]
    assert svc.bindings.list() == []
    with pytest.raises(TwilioRestException) as raised:
        svc.bindings(a["sid"]).fetch()
    assert raised.value.code == 20404


def test_binding_of_another_user_is_not_found(server: Server, client: Client, service: Any) -> None:
    made = register_binding(server, service.sid, "gina", "e1")
    register_binding(server, service.sid, "hank", "e2")
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(service.sid).users("hank").user_bindings(made["sid"]).delete()
    assert raised.value.code == 20404
    assert len(client.chat.v2.services(service.sid).bindings.list()) == 2


def test_foreign_service_and_account(
    server: Server, client: Client, other_client: Client, make_service: Any
) -> None:
    first, second = make_service("one"), make_service("two")
    made = register_binding(server, first.sid, "ivy", "e1")
    with pytest.raises(TwilioRestException) as raised:
        client.chat.v2.services(second.sid).bindings(made["sid"]).fetch()
    assert raised.value.code == 20404
    with pytest.raises(TwilioRestException) as raised:
        other_client.chat.v2.services(first.sid).bindings(made["sid"]).fetch()
    assert raised.value.code == 20404


def test_reregistering_replaces(server: Server, client: Client, service: Any) -> None:
    first = register_binding(server, service.sid, "jack", "e1", "fcm")
    with captured_events(server) as events:
        again = register_binding(
            server, service.sid, "jack", "e1", "fcm", message_types=["new_message"]
        )
    assert again["sid"] == first["sid"]
    assert [e.kind for e in events] == ["parley.binding.updated"]
    (binding,) = client.chat.v2.services(service.sid).bindings.list()
    assert binding.message_types == ["new_message"] and binding.date_updated is not None
    # another type on the same endpoint is another binding
    register_binding(server, service.sid, "jack", "e1", "apn")
    assert len(client.chat.v2.services(service.sid).bindings.list()) == 2


def test_register_validates(server: Server, client: Client, service: Any) -> None:
    with pytest.raises(TwilioError) as raised:
        register_binding(server, service.sid, "kim", "e1", "sms")
    assert raised.value.code == 50209
    with pytest.raises(TwilioError):
        register_binding(server, service.sid, "kim", "e1", "fcm", message_types=["nope"])
    with pytest.raises(TwilioError):
        register_binding(server, service.sid, "kim", "e1", "fcm", credential_sid="CR" + "0" * 32)
    # nothing half-done: no user was created either
    assert client.chat.v2.services(service.sid).users.list() == []
    assert client.chat.v2.services(service.sid).bindings.list() == []


def test_cli_registers_a_binding(tmp_path: Any) -> None:
    import asyncio
    import json

    from click.testing import CliRunner

    from parley.cli import main
    from parley.domain import services
    from parley.store import open_store, repo

    url = f"sqlite:///{tmp_path}/cli.db"

    async def make_service() -> str:
        store = await open_store(url)
        try:
            async with store.write() as tx:
                row = await services.create(tx, "AC" + "1" * 32, "cli")
                return str(row["sid"])
        finally:
            await store.close()

    async def stored() -> list[Any]:
        store = await open_store(url)
        try:
            async with store.read() as tx:
                return await repo.select(tx, "bindings", {})
        finally:
            await store.close()

    service_sid = asyncio.run(make_service())
    args = ["bindings", "create", "--database-url", url, "--service", service_sid]
    args += ["--identity", "alice", "--binding-type", "apn", "--endpoint", "dev-1"]
    result = CliRunner().invoke(main, [*args, "--message-type", "new_message"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["sid"].startswith("BS") and printed["binding_type"] == "apn"
    assert printed["message_types"] == ["new_message"] and printed["identity"] == "alice"
    assert [row["sid"] for row in asyncio.run(stored())] == [printed["sid"]]
    again = CliRunner().invoke(main, args)
    assert json.loads(again.output)["sid"] == printed["sid"]
    assert json.loads(again.output)["message_types"] == ALL_TYPES
    bad = CliRunner().invoke(main, [*args[:-4], "--credential-sid", "CR" + "0" * 32, *args[-4:]])
    assert bad.exit_code != 0 and "CredentialSid" in bad.output
