"""Issue 18: an uploaded text/html file was served inline from the API's origin,
with ``Access-Control-Allow-Origin: *`` and no nosniff, disposition or CSP, and
the SDK's signed temporary URL opened it without credentials. Media is served
as a download unless its type is one a browser shows without running anything
(docs/security.md, "Media")."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account, Server
from tests.realtime.helpers import make_key, token

XSS = b"<html><script>fetch('/v2/Services').then(r => r.text()).then(alert)</script></html>"


@pytest.fixture
def mcs(server: Server, account: Account) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=(account.sid, account.auth_token)) as http:
        yield http


def _upload(mcs: httpx.Client, service: Any, content_type: str, name: str | None = None) -> Any:
    params = {"Filename": name} if name else {}
    response = mcs.post(
        f"/v1/Services/{service.sid}/Media",
        content=XSS,
        headers={"Content-Type": content_type},
        params=params,
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    return response.json()


def _guarded(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/pdf",
        "text/plain",
        "application/octet-stream",
        "nonsense",
    ],
)
def test_active_content_is_a_download(mcs: httpx.Client, service: Any, content_type: str) -> None:
    media = _upload(mcs, service, content_type, 'évil "page".html')
    response = mcs.get(media["links"]["content"])
    _guarded(response)
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%C3%A9vil%20%22page%22.html" in disposition
    assert 'filename="_vil _page_.html"' in disposition
    assert response.content == XSS


def test_signed_temporary_url_gets_the_same_headers(
    server: Server, account: Account, service: Any
) -> None:
    sdk = token(account.sid, make_key(server, account.sid), "alice", service.sid)
    url = f"{server.url}/v1/Services/{service.sid}/Media"
    up = httpx.post(url, content=XSS, headers={"X-Twilio-Token": sdk, "Content-Type": "text/html"})
    direct = up.json()["links"]["content_direct_temporary"]
    response = httpx.get(direct)  # no credentials
    _guarded(response)
    assert response.headers["content-disposition"] == "attachment"


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "video/mp4", "audio/mpeg"])
def test_plain_media_stays_inline(mcs: httpx.Client, service: Any, content_type: str) -> None:
    media = _upload(mcs, service, content_type, "pic")
    response = mcs.get(media["links"]["content"])
    _guarded(response)
    assert response.headers["content-type"] == content_type
    assert (
        response.headers["content-disposition"] == "inline; filename=\"pic\"; filename*=UTF-8''pic"
    )
