"""Issue 18, media limits: a 140 MB upload was read into memory (+139 MB RSS)
and stalled other clients; unattached uploads had no quota or expiry. Uploads
stream to storage in chunks, and unattached ones are bounded and expire
(docs/security.md, "Media limits")."""

import base64
import hashlib
import os
import random
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from parley import formdata, timefmt
from parley.domain import limits
from parley.domain import media as media_store
from parley.store import repo
from parley.testing import ParleyServer

MB = 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[ParleyServer]:
    with ParleyServer(media_unattached_quota=64 * MB, media_unattached_ttl=2.0) as running:
        yield running


@pytest.fixture
def tenant(server: ParleyServer) -> Iterator[tuple[httpx.Client, str]]:
    creds = server.create_credentials()
    basic = base64.b64encode(f"{creds.account_sid}:{creds.auth_token}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    http = httpx.Client(base_url=server.url, headers=headers, timeout=60)
    sid = http.post("/v2/Services", data={"FriendlyName": "m"}).json()["sid"]
    yield http, sid
    http.close()


def _chunks(total: int, seed: int = 1, pause: float = 0.0) -> Iterator[bytes]:
    rng = random.Random(seed)
    left = total
    while left:
        size = min(left, 64 * 1024)
        left -= size
        if pause:
            time.sleep(pause)
        yield rng.randbytes(size)


def _digest(total: int, seed: int = 1) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(total, seed):
        digest.update(chunk)
    return digest.hexdigest()


def _chunk_rows(server: ParleyServer, media_sid: str | None = None) -> int:
    store = server.app.store
    assert store is not None

    async def count() -> int:
        async with store.read() as tx:
            where = {"media_sid": media_sid} if media_sid else {}
            return await repo.count(tx, "media_chunks", where)

    result: int = server.run(count())
    return result


def test_a_large_upload_streams_to_storage_and_back(
    server: ParleyServer, tenant: tuple[httpx.Client, str]
) -> None:
    http, sid = tenant
    total = 40 * MB
    tracemalloc.start()
    try:
        up = http.post(
            f"/v1/Services/{sid}/Media",
            content=_chunks(total),
            headers={"Content-Type": "application/octet-stream"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert up.status_code == 201, up.text
    media = up.json()
    assert media["size"] == total
    assert peak < 12 * MB, f"the upload held {peak / MB:.0f} MB"
    assert _chunk_rows(server, media["sid"]) == total // media_store.CHUNK

    digest = hashlib.sha256()
    with http.stream("GET", media["links"]["content"]) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == total
        for chunk in response.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == _digest(total)


def test_other_clients_are_served_during_a_large_upload(
    server: ParleyServer, tenant: tuple[httpx.Client, str]
) -> None:
    http, sid = tenant
    other = server.create_credentials()
    slowest = 0.0
    done = threading.Event()

    def upload() -> None:
        try:
            response = http.post(
                f"/v1/Services/{sid}/Media",
                content=_chunks(24 * MB, pause=0.002),
                headers={"Content-Type": "video/mp4"},
            )
            assert response.status_code == 201
        finally:
            done.set()

    thread = threading.Thread(target=upload)
    thread.start()
    with httpx.Client(base_url=server.url, auth=(other.account_sid, other.auth_token)) as them:
        while not done.is_set():
            started = time.monotonic()
            assert them.get("/v2/Services").status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.01)
    thread.join()
    assert slowest < 1.0, f"a read waited {slowest:.2f} s"


def test_an_oversized_upload_is_refused_and_leaves_nothing(
    server: ParleyServer, tenant: tuple[httpx.Client, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    http, sid = tenant
    monkeypatch.setattr(limits, "MEDIA_MAX", 3 * MB)
    before = _chunk_rows(server)
    # a declared length over the limit is answered before any byte of the body
    auth = http.headers["authorization"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(
            (
                f"POST /v1/Services/{sid}/Media HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                f"Content-Type: image/png\r\nContent-Length: {5 * MB}\r\n\r\n"
            ).encode()
        )
        head = raw.recv(65536)
    assert head.startswith(b"HTTP/1.1 400"), head[:100]
    streamed = http.post(
        f"/v1/Services/{sid}/Media",
        content=_chunks(5 * MB),
        headers={"Content-Type": "image/png"},
    )
    assert streamed.status_code == 400, streamed.text
    assert "larger than" in streamed.json()["message"]
    assert _chunk_rows(server) == before


def test_unattached_uploads_count_against_a_quota(
    server: ParleyServer, tenant: tuple[httpx.Client, str]
) -> None:
    http, sid = tenant
    # the module's server allows 64 MB of unattached uploads per account
    first = http.post(
        f"/v1/Services/{sid}/Media", content=_chunks(40 * MB), headers={"Content-Type": "image/png"}
    )
    assert first.status_code == 201
    refused = http.post(
        f"/v1/Services/{sid}/Media", content=_chunks(30 * MB), headers={"Content-Type": "image/png"}
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == 20403 and "attach" in refused.json()["message"]
    # attached, an upload no longer counts
    channel = http.post(f"/v2/Services/{sid}/Channels", data={"UniqueName": "c"}).json()
    sent = http.post(
        f"/v2/Services/{sid}/Channels/{channel['sid']}/Messages",
        data={"MediaSid": first.json()["sid"]},
    )
    assert sent.status_code == 201, sent.text
    again = http.post(
        f"/v1/Services/{sid}/Media", content=_chunks(30 * MB), headers={"Content-Type": "image/png"}
    )
    assert again.status_code == 201, again.text


def test_the_number_of_unattached_uploads_is_bounded(
    server: ParleyServer, tenant: tuple[httpx.Client, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    http, sid = tenant
    monkeypatch.setattr(media_store, "UNATTACHED_COUNT_MAX", 3)
    for _ in range(3):
        assert (
            http.post(
                f"/v1/Services/{sid}/Media", content=b"x", headers={"Content-Type": "image/png"}
            ).status_code
            == 201
        )
    refused = http.post(
        f"/v1/Services/{sid}/Media", content=b"x", headers={"Content-Type": "image/png"}
    )
    assert refused.status_code == 403 and "3 uploads" in refused.json()["message"]


def test_unattached_uploads_expire_and_attached_ones_stay(
    server: ParleyServer, tenant: tuple[httpx.Client, str]
) -> None:
    http, sid = tenant
    kept = http.post(
        f"/v1/Services/{sid}/Media", content=b"kept", headers={"Content-Type": "image/png"}
    ).json()
    dropped = http.post(
        f"/v1/Services/{sid}/Media", content=b"dropped", headers={"Content-Type": "image/png"}
    ).json()
    channel = http.post(f"/v2/Services/{sid}/Channels", data={"UniqueName": "e"}).json()
    http.post(
        f"/v2/Services/{sid}/Channels/{channel['sid']}/Messages", data={"MediaSid": kept["sid"]}
    ).raise_for_status()
    deadline = time.monotonic() + 10  # ttl 2 s, swept every second
    while http.get(f"/v1/Services/{sid}/Media/{dropped['sid']}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert http.get(f"/v1/Services/{sid}/Media/{kept['sid']}/Content").content == b"kept"


def test_chunks_of_an_upload_that_never_finished_are_swept(server: ParleyServer) -> None:
    store = server.app.store
    assert store is not None

    async def orphan() -> tuple[int, int]:
        writer = media_store.Writer(store, "AC" + "0" * 32, "IS" + "0" * 32)
        await writer.write(os.urandom(media_store.CHUNK + 10))  # one chunk stored, then "killed"
        async with store.write() as tx:
            await tx.run(
                "UPDATE media_chunks SET date_created = :old WHERE media_sid = :s",
                {"old": timefmt.now() - 3_600_000_000, "s": writer.sid},
            )
        async with store.read() as tx:
            before = await repo.count(tx, "media_chunks", {"media_sid": writer.sid})
        await media_store.expire(store, 60)
        async with store.read() as tx:
            after = await repo.count(tx, "media_chunks", {"media_sid": writer.sid})
        return before, after

    assert server.run(orphan()) == (1, 0)


def test_multipart_parts_split_anywhere_are_read_alike() -> None:
    body = (
        b'preamble\r\n--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n--Xy not yet\r\n\r\n--XyZ--\r\nepilogue"
    )
    rng = random.Random(7)
    for _ in range(200):
        parser = formdata.Parser(b"XyZ")
        cuts = sorted(rng.sample(range(1, len(body)), rng.randint(0, 12)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        parts: list[dict[str, str]] = []
        data: list[bytearray] = []
        for piece in pieces:
            for item in parser.feed(piece):
                if isinstance(item, formdata.Part):
                    parts.append(item.headers)
                    data.append(bytearray())
                else:
                    data[-1] += item
        assert parser.done
        assert [p.get("content-type") for p in parts] == [None, "image/png"]
        assert [bytes(d) for d in data] == [b"hello", b"\x89PNG\r\n--Xy not yet\r\n"]


def test_a_form_upload_streams_its_file_part(
    server: ParleyServer, tenant: tuple[httpx.Client, str]
) -> None:
    http, sid = tenant
    payload = os.urandom(3 * MB)
    files = {"note": (None, b"not the file"), "file": ("clip.mp4", payload, "video/mp4")}
    up = http.post(f"/v1/Services/{sid}/Media", files=files)
    assert up.status_code == 201, up.text
    media = up.json()
    assert (media["filename"], media["content_type"], media["size"]) == (
        "clip.mp4",
        "video/mp4",
        len(payload),
    )
    assert http.get(media["links"]["content"]).content == payload
    broken = http.post(
        f"/v1/Services/{sid}/Media",
        content=b"--b\r\nContent-Type: image/png\r\n\r\nno closing boundary",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert broken.status_code == 400 and broken.json()["code"] == 20001
