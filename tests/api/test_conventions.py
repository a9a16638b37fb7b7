"""Twilio's wire conventions (docs/behaviour.md §C), checked on the raw HTTP exchange."""

import base64
import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from parley import accounts
from tests import spec_oracle
from tests.conftest import Account, Server, make_client


def _auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def http(server: Server, account: Account) -> httpx.Client:
    with httpx.Client(base_url=server.url, headers=_auth(account.sid, account.auth_token)) as c:
        yield c


def _checked(response: httpx.Response) -> Any:
    spec_oracle.check(
        response.request.method, response.request.url.path, response.status_code, response.text
    )
    return response.json() if response.content else None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer abc"},
        _auth("AC" + "0" * 32, "wrong"),
        _auth("SK" + "0" * 32, "wrong"),
    ],
)
def test_bad_credentials_are_401(server: Server, headers: dict[str, str]) -> None:
    for path in ("/v2/Services", "/v2/Nowhere"):
        response = httpx.get(server.url + path, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
        assert response.headers["www-authenticate"] == 'Basic realm="Twilio API"'


def test_an_access_token_over_plain_http_is_told_to_retry(server: Server, account: Account) -> None:
    """twilio-chat 2.x sends a Sync read here while its socket is down: a 503
    it retries (through the socket once it is back), not a 401 that ends it
    (docs/decisions.md 48). Basic credentials still decide when present."""
    token = {"X-Twilio-Token": "eyJ.any.thing"}
    for path in ("/v3/Maps/MP" + "0" * 32 + "/Items", "/v2/Services"):
        response = httpx.get(server.url + path, headers=token)
        assert response.status_code == 503
        assert response.json()["code"] == 20503
        assert "/v3/wsconnect" in response.json()["message"]
        assert response.headers["retry-after"] == "2"
    both = {**token, **_auth(account.sid, "nope")}
    assert httpx.get(server.url + "/v2/Services", headers=both).status_code == 401
    both = {**token, **_auth(account.sid, account.auth_token)}
    assert httpx.get(server.url + "/v2/Services", headers=both).status_code == 200


def test_wrong_token_for_real_account(server: Server, account: Account) -> None:
    response = httpx.get(server.url + "/v2/Services", headers=_auth(account.sid, "nope"))
    assert response.status_code == 401


def test_api_key_authenticates_as_its_account(
    server: Server, account: Account, client: Client
) -> None:
    assert server.app.store is not None
    key = server.run(accounts.create_key(server.app.store, account.sid))
    keyed = make_client(server, key["sid"], key["secret"], account.sid)
    created = keyed.chat.v2.services.create(friendly_name="via key")
    assert created.account_sid == account.sid
    assert client.chat.v2.services(created.sid).fetch().friendly_name == "via key"
    client.chat.v2.services(created.sid).delete()


def test_rotated_token_stops_working_within_the_ttl(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verified header is trusted for ``Authenticator.TTL`` seconds without a
    lookup (docs/decisions.md §44), never longer: after a token's rotation the
    new one works at once, and the old one is refused once that time is past."""
    store, api = server.app.store, server.app.api
    assert store is not None and api is not None
    clock = [1_000.0]
    monkeypatch.setattr(accounts, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    made = server.run(accounts.create_account(store, "rotating"))
    old = _auth(made["sid"], made["auth_token"])
    assert httpx.get(server.url + "/v2/Services", headers=old).status_code == 200
    server.run(accounts.create_account(store, "rotating", sid=made["sid"], auth_token="new"))
    new = _auth(made["sid"], "new")
    assert httpx.get(server.url + "/v2/Services", headers=new).status_code == 200
    clock[0] += api.auth.TTL / 2
    assert httpx.get(server.url + "/v2/Services", headers=old).status_code == 200
    clock[0] += api.auth.TTL / 2 + 0.001
    assert httpx.get(server.url + "/v2/Services", headers=old).status_code == 401
    assert httpx.get(server.url + "/v2/Services", headers=new).status_code == 200


def test_only_headers_of_a_credentials_size_are_remembered(
    server: Server, account: Account
) -> None:
    """Whitespace padding still verifies, but is not kept: a tenant cannot
    grow the process's memory with variants of its own valid header."""
    api = server.app.api
    assert api is not None
    plain = _auth(account.sid, account.auth_token)["Authorization"]
    padded = plain.replace("Basic ", "Basic" + " " * 300, 1)
    for header in (plain, padded):
        response = httpx.get(server.url + "/v2/Services", headers={"Authorization": header})
        assert response.status_code == 200
    assert plain.encode() in api.auth._cache
    assert padded.encode() not in api.auth._cache


def test_unknown_path_and_verb(http: httpx.Client) -> None:
    for path in ("/v2/Nowhere", "/v2/Services/", "/v1/Services", "/v2/services", "/"):
        response = http.get(path)
        assert response.status_code == 404, path
        body = response.json()
        assert body["code"] == 20404 and body["status"] == 404
    response = http.put("/v2/Services")
    assert response.status_code == 405
    assert response.json()["code"] == 20004
    response = http.delete("/v2/Services")
    assert response.status_code == 405


def test_malformed_sid_in_path_is_404(http: httpx.Client) -> None:
    response = http.get("/v2/Services/IS71")
    assert response.status_code == 404
    assert response.json()["message"] == "The requested resource /Services/IS71 was not found"


def test_status_codes_and_no_body_on_delete(http: httpx.Client) -> None:
    created = http.post("/v2/Services", data={"FriendlyName": "codes"})
    assert created.status_code == 201
    sid = _checked(created)["sid"]
    assert created.headers["content-type"] == "application/json; charset=utf-8"
    assert http.get(f"/v2/Services/{sid}").status_code == 200
    assert http.post(f"/v2/Services/{sid}", data={"FriendlyName": "x"}).status_code == 200
    deleted = http.delete(f"/v2/Services/{sid}")
    assert deleted.status_code == 204 and deleted.content == b""


def test_upper_case_hex_sid_is_accepted(http: httpx.Client) -> None:
    sid = _checked(http.post("/v2/Services", data={"FriendlyName": "case"}))["sid"]
    fetched = _checked(http.get("/v2/Services/IS" + sid[2:].upper()))
    assert fetched["sid"] == sid
    http.delete(f"/v2/Services/{sid}")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("TRUE", True), ("False", False)])
def test_booleans(http: httpx.Client, raw: str, expected: bool) -> None:
    sid = _checked(http.post("/v2/Services", data={"FriendlyName": "bools"}))["sid"]
    body = _checked(http.post(f"/v2/Services/{sid}", data={"ReachabilityEnabled": raw}))
    assert body["reachability_enabled"] is expected
    http.delete(f"/v2/Services/{sid}")


def test_bad_boolean_is_400(http: httpx.Client) -> None:
    sid = _checked(http.post("/v2/Services", data={"FriendlyName": "bools"}))["sid"]
    response = http.post(f"/v2/Services/{sid}", data={"ReachabilityEnabled": "yes"})
    assert response.status_code == 400
    assert _checked(response)["code"] == 20001
    assert "ReachabilityEnabled" in response.json()["message"]
    http.delete(f"/v2/Services/{sid}")


def test_unknown_params_are_ignored_and_repeats_kept(http: httpx.Client) -> None:
    sid = _checked(http.post("/v2/Services", data={"FriendlyName": "x", "Bogus": "1"}))["sid"]
    body = _checked(
        http.post(
            f"/v2/Services/{sid}",
            content="WebhookFilters=onMessageSent&WebhookFilters=onUserAdded",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    assert body["webhook_filters"] == ["onMessageSent", "onUserAdded"]
    cleared = _checked(http.post(f"/v2/Services/{sid}", data={"WebhookFilters": ""}))
    assert cleared["webhook_filters"] is None
    http.delete(f"/v2/Services/{sid}")


def test_dates_are_twilio_format(http: httpx.Client) -> None:
    body = _checked(http.post("/v2/Services", data={"FriendlyName": "dates"}))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["date_created"])
    assert body["date_updated"] is None
    http.delete(f"/v2/Services/{body['sid']}")


def test_paging_meta(http: httpx.Client, server: Server) -> None:
    made = [
        _checked(http.post("/v2/Services", data={"FriendlyName": f"p{i}"}))["sid"] for i in range(5)
    ]
    first = _checked(http.get("/v2/Services", params={"PageSize": 2}))
    meta = first["meta"]
    assert set(first) == {"services", "meta"}
    assert meta["key"] == "services" and meta["page"] == 0 and meta["page_size"] == 2
    assert meta["first_page_url"] == f"{server.url}/v2/Services?PageSize=2&Page=0"
    assert meta["url"] == meta["first_page_url"]
    assert meta["previous_page_url"] is None
    assert re.fullmatch(
        re.escape(f"{server.url}/v2/Services?PageSize=2&Page=1&PageToken=") + "PA.+",
        meta["next_page_url"],
    )
    second = _checked(httpx.get(meta["next_page_url"], headers=http.headers))
    assert second["meta"]["page"] == 1
    assert second["meta"]["previous_page_url"].startswith(
        f"{server.url}/v2/Services?PageSize=2&Page=0&PageToken=PB"
    )
    assert second["meta"]["url"] == meta["next_page_url"]
    back = _checked(httpx.get(second["meta"]["previous_page_url"], headers=http.headers))
    assert [s["sid"] for s in back["services"]] == [s["sid"] for s in first["services"]]
    for sid in made:
        http.delete(f"/v2/Services/{sid}")


def test_page_size_is_clamped_and_validated(http: httpx.Client) -> None:
    assert _checked(http.get("/v2/Services", params={"PageSize": 5000}))["meta"]["page_size"] == 100
    for bad in ("0", "-1", "ten"):
        response = http.get("/v2/Services", params={"PageSize": bad})
        assert response.status_code == 400 and _checked(response)["code"] == 20001


@pytest.mark.parametrize("token", ["garbage", "PAnotbase64!!", "PZabc", "PA" + "e30"])
def test_bad_page_token_is_400(http: httpx.Client, token: str) -> None:
    response = http.get("/v2/Services", params={"PageToken": token})
    assert response.status_code == 400
    assert _checked(response)["code"] == 20001


def test_empty_list(http: httpx.Client, make_service: Any) -> None:
    svc = make_service()
    body = _checked(http.get(f"/v2/Services/{svc.sid}/Roles", params={"PageSize": 50}))
    assert body["meta"]["next_page_url"] is None and len(body["roles"]) == 4
