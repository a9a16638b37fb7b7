"""Media from the SDK (parley/media.py): @twilio/mcs-client uploads to the
configuration's ``links.media_service`` with the access token in
``X-Twilio-Token``, from a browser through CORS, raw or as FormData."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account, Server
from tests.realtime.helpers import Twilsock, make_key, token

PNG = b"\x89PNG\r\n\x1a\n\x00\x01\xff"


@pytest.fixture
def sdk_token(server: Server, account: Account, service: Any) -> str:
    return token(account.sid, make_key(server, account.sid), "alice", service.sid)


@pytest.fixture
def media_url(server: Server, sdk_token: str) -> Iterator[str]:
    """links.media_service as the SDK receives it in its configuration."""
    sock = Twilsock(server)
    try:
        sock.init(sdk_token)
        status, config = sock.request("GET", "/Client/v1/Configuration")
        assert status == 200, config
        yield str(config["links"]["media_service"])
    finally:
        sock.close()


def test_configuration_points_the_sdk_at_the_media_endpoint(
    server: Server, service: Any, media_url: str
) -> None:
    # mcs-client POSTs to this URL and GETs {url}/{ME} (mcs-client@0.5.3 Client.post/get)
    assert media_url == f"{server.url}/v1/Services/{service.sid}/Media"


def test_upload_with_an_access_token(
    media_url: str, sdk_token: str, client: Any, service: Any
) -> None:
    headers = {"X-Twilio-Token": sdk_token, "Content-Type": "image/png", "Origin": "http://app"}
    # what mcs-client sends: ?Category=media (6.x), no filename from sendMessage({...})
    up = httpx.post(media_url, params={"Category": "media"}, content=PNG, headers=headers)
    assert up.status_code == 201, up.text
    assert up.headers["access-control-allow-origin"] == "*"
    media = up.json()
    assert media["content_type"] == "image/png" and media["size"] == len(PNG)
    assert media["filename"] is None
    fetched = httpx.get(f"{media_url}/{media['sid']}", headers={"X-Twilio-Token": sdk_token})
    assert fetched.status_code == 200 and fetched.json()["sid"] == media["sid"]
    # the direct URL needs no credentials, and only works as signed
    direct = fetched.json()["links"]["content_direct_temporary"]
    content = httpx.get(direct)
    assert content.status_code == 200 and content.content == PNG
    assert content.headers["content-type"] == "image/png"
    tampered = httpx.get(direct.replace("Expires=", "Expires=1"))
    assert tampered.status_code == 403 and tampered.json()["code"] == 20403
    # the REST API attaches it to a message like any upload
    sent = client.chat.v2.services(service.sid).channels.create(friendly_name="m")
    message = sent.messages.create(from_="alice", media_sid=media["sid"])
    assert message.type == "media" and message.media["sid"] == media["sid"]


def test_an_expired_direct_url_is_refused(
    media_url: str, sdk_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parley import media

    monkeypatch.setattr(media, "DIRECT_TTL", -1)
    headers = {"X-Twilio-Token": sdk_token, "Content-Type": "image/png"}
    up = httpx.post(media_url, content=PNG, headers=headers).json()
    expired = httpx.get(up["links"]["content_direct_temporary"])
    assert expired.status_code == 403 and expired.json()["code"] == 20403


def test_formdata_upload_takes_the_file_part(media_url: str, sdk_token: str) -> None:
    # a browser's FormData: multipart, the file part carries type and name
    files = {"file": ("photo.png", PNG, "image/png")}
    up = httpx.post(media_url, files=files, headers={"X-Twilio-Token": sdk_token})
    assert up.status_code == 201, up.text
    media = up.json()
    assert (media["filename"], media["content_type"], media["size"]) == (
        "photo.png",
        "image/png",
        len(PNG),
    )
    content = httpx.get(media["links"]["content_direct_temporary"])
    assert content.content == PNG


def test_cors_preflight(media_url: str) -> None:
    answer = httpx.options(
        media_url,
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-twilio-token, content-type",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"]
    assert "x-twilio-token" in allowed and "content-type" in allowed
    # errors carry CORS too, so the browser can read them
    refused = httpx.post(media_url, content=b"x", headers={"X-Twilio-Token": "nonsense"})
    assert refused.status_code == 401 and refused.json()["code"] == 20101
    assert refused.headers["access-control-allow-origin"] == "*"


def test_a_token_for_another_service_is_refused(
    server: Server, account: Account, make_service: Any, media_url: str
) -> None:
    other = make_service()
    foreign = token(account.sid, make_key(server, account.sid), "alice", other.sid)
    refused = httpx.post(
        media_url, content=PNG, headers={"X-Twilio-Token": foreign, "Content-Type": "image/png"}
    )
    assert refused.status_code == 403 and refused.json()["code"] == 20403
    expired = token(account.sid, make_key(server, account.sid), "alice", other.sid, ttl=-10)
    stale = httpx.post(media_url, content=PNG, headers={"X-Twilio-Token": expired})
    assert stale.status_code == 401 and stale.json()["code"] == 20104
