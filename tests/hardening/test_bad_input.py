"""Input that used to answer 500 (issue 18): each is Twilio's 400 with a clear
message on both engines, and nothing is stored (docs/security.md, "Bad input")."""

import base64
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Account, Server
from tests.realtime.helpers import Twilsock, make_key, token

HUGE = str(10**30)


@pytest.fixture
def http(server: Server, account: Account) -> Any:
    with httpx.Client(base_url=server.url, auth=(account.sid, account.auth_token)) as c:
        yield c


def _refused(response: httpx.Response, code: int, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    return body


def _token(position: int) -> str:
    return "PA" + base64.urlsafe_b64encode(orjson.dumps(position)).rstrip(b"=").decode()


@pytest.fixture
def channel(http: httpx.Client, service: Any) -> str:
    response = http.post(f"/v2/Services/{service.sid}/Channels", data={"UniqueName": "general"})
    assert response.status_code == 201
    return str(response.json()["sid"])


@pytest.mark.parametrize(
    "query",
    [
        {"Page": HUGE},
        {"Page": "-1"},
        {"Page": "1_0"},
        {"PageSize": HUGE + "x"},
        {"PageToken": _token(2**63)},
        {"PageToken": _token(2**64 - 1)},
        {"PageToken": "PA" + base64.urlsafe_b64encode(str(2**64).encode()).decode()},
        {"PageToken": _token(-1)},
    ],
)
def test_paging_numbers_beyond_range_are_400(
    http: httpx.Client, service: Any, channel: str, query: dict[str, str]
) -> None:
    for path in ("/v2/Services", f"/v2/Services/{service.sid}/Channels/{channel}/Messages"):
        body = _refused(http.get(path, params=query), 20001)
        assert next(iter(query)) in body["message"]


def test_a_huge_page_size_is_clamped(http: httpx.Client) -> None:
    response = http.get("/v2/Services", params={"PageSize": HUGE})
    assert response.status_code == 200
    assert response.json()["meta"]["page_size"] == 100


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        ("TypingIndicatorTimeout", str(2**63), 50053),
        ("TypingIndicatorTimeout", str(2**31), 50053),
        ("ConsumptionReportInterval", HUGE, 50052),
        ("ConsumptionReportInterval", "1e3", 50052),
    ],
)
def test_service_integers_beyond_range_are_400(
    http: httpx.Client, service: Any, param: str, value: str, code: int
) -> None:
    before = http.get(f"/v2/Services/{service.sid}").json()
    _refused(http.post(f"/v2/Services/{service.sid}", data={param: value}), code)
    assert http.get(f"/v2/Services/{service.sid}").json() == before


def test_consumed_index_beyond_range_is_400(http: httpx.Client, service: Any, channel: str) -> None:
    members = f"/v2/Services/{service.sid}/Channels/{channel}/Members"
    member = http.post(members, data={"Identity": "alice"}).json()
    for value in (str(2**64), str(2**63), HUGE):
        _refused(
            http.post(f"{members}/{member['sid']}", data={"LastConsumedMessageIndex": value}), 50406
        )
    user = member["identity"]
    user_channel = f"/v2/Services/{service.sid}/Users/{user}/Channels/{channel}"
    _refused(http.post(user_channel, data={"LastConsumedMessageIndex": str(2**64)}), 50406)
    assert http.get(f"{members}/{member['sid']}").json()["last_consumed_message_index"] is None


@pytest.mark.parametrize(
    ("collection", "data"),
    [
        ("Users", {"Identity": "al\x00ice"}),
        ("Users", {"Identity": "alice", "FriendlyName": "Al\x00ice"}),
        ("Channels", {"UniqueName": "gen\x00eral"}),
        ("Channels", {"FriendlyName": "General\x00"}),
        ("Channels", {"Attributes": '{"a": 1}\x00'}),
    ],
)
def test_nul_in_text_is_400_and_nothing_is_stored(
    http: httpx.Client, service: Any, collection: str, data: dict[str, str]
) -> None:
    path = f"/v2/Services/{service.sid}/{collection}"
    body = _refused(http.post(path, data=data), 20001)
    assert body["message"].endswith(": NUL characters are not allowed")
    assert http.get(path).json()[collection.lower()] == []


def test_nul_in_a_message_body_is_400(http: httpx.Client, service: Any, channel: str) -> None:
    messages = f"/v2/Services/{service.sid}/Channels/{channel}/Messages"
    body = _refused(http.post(messages, data={"Body": "hi\x00there"}), 20001)
    assert body["message"] == "Invalid parameter Body: NUL characters are not allowed"
    _refused(http.post(messages, data={"Body": "hi", "From": "a\x00"}), 20001)
    assert http.get(messages).json()["messages"] == []
    created = http.post(messages, data={"Body": "hi"}).json()
    _refused(http.post(f"{messages}/{created['sid']}", data={"Body": "\x00"}), 20001)
    assert http.get(f"{messages}/{created['sid']}").json()["body"] == "hi"


def test_nul_in_a_path_or_a_filter_is_not_a_500(
    http: httpx.Client, service: Any, channel: str
) -> None:
    base = f"/v2/Services/{service.sid}"
    for path in (
        f"{base}/Users/al%00ice",
        f"{base}/Channels/gen%00eral",
        f"{base}/Channels/x%00/Members",
    ):
        _refused(http.get(path), 20404, 404)
    _refused(http.get(f"{base}/Channels/{channel}/Members", params={"Identity": "a\x00"}), 20001)


def test_dates_before_year_1000_render_four_digit_years(
    http: httpx.Client, service: Any, channel: str
) -> None:
    messages = f"/v2/Services/{service.sid}/Channels/{channel}/Messages"
    created = http.post(
        messages, data={"Body": "old", "DateCreated": "0041-09-18T19:52:03Z"}
    ).json()
    assert created["date_created"] == "0041-09-18T19:52:03Z"
    assert http.get(f"{messages}/{created['sid']}").json()["date_created"] == "0041-09-18T19:52:03Z"
    # a date four digits cannot hold once in UTC is refused, not rendered as year 0
    _refused(
        http.post(messages, data={"Body": "x", "DateCreated": "0001-01-01T00:00:00+01:00"}), 50308
    )
    _refused(
        http.post(messages, data={"Body": "x", "DateUpdated": "9999-12-31T23:59:59-01:00"}), 50309
    )


def test_a_token_identity_with_nul_is_refused_at_init(
    server: Server, account: Account, service: Any
) -> None:
    key = make_key(server, account.sid)
    sock = Twilsock(server)
    try:
        reply, _ = sock.init(token(account.sid, key, "al\x00ice", service.sid))
        assert reply["status"]["code"] == 401
        assert reply["status"]["errorCode"] == 20106
    finally:
        sock.close()


def test_sync_paging_positions_beyond_range_are_400(
    server: Server, account: Account, service: Any, http: httpx.Client, channel: str
) -> None:
    http.post(f"/v2/Services/{service.sid}/Channels/{channel}/Members", data={"Identity": "alice"})
    key = make_key(server, account.sid)
    sock = Twilsock(server)
    try:
        sock.init(token(account.sid, key, "alice", service.sid))
        items = f"/v3/Lists/{channel}.messages/Items"
        raw = b'{"f": %d, "d": false}' % 2**63
        bad = [
            base64.urlsafe_b64encode(raw).decode(),
            base64.urlsafe_b64encode(b'{"f": "x", "d": 0}').decode(),
        ]
        for params in (
            {"From": str(2**70)},
            {"PageToken": bad[0]},
            {"PageToken": bad[1]},
            {"From": "x"},
        ):
            status, body = sock.request("GET", items, params=params)
            assert status == 400 and body["code"] == 20001, (params, body)
        status, body = sock.request("GET", items, params={"Order": "asc\x00"})
        assert status == 400 and "NUL" in body["message"]
        status, body = sock.request("GET", f"/v3/Lists/{channel}.mess%00ages/Items")
        assert status == 404
        status, _ = sock.request("GET", items)
        assert status == 200
    finally:
        sock.close()


def test_nul_in_a_media_filename_is_400(http: httpx.Client, service: Any) -> None:
    upload = f"/v1/Services/{service.sid}/Media"
    for params, headers in (
        ({"Filename": "a\x00b.png"}, {}),
        ({}, {"Content-Disposition": "attachment; filename*=UTF-8''a%00b.png"}),
    ):
        response = http.post(
            upload, params=params, content=b"png", headers={"Content-Type": "image/png", **headers}
        )
        body = _refused(response, 20001)
        assert body["message"] == "Invalid parameter Filename: NUL characters are not allowed"
    form = (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="a\x00b.png"\r\n'
        b"Content-Type: image/png\r\n\r\npng\r\n--b--\r\n"
    )
    form_type = {"Content-Type": "multipart/form-data; boundary=b"}
    _refused(http.post(upload, content=form, headers=form_type), 20001)
