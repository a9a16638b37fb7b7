"""Issue 18, faults: PostgreSQL down answered 500 at once; Redis down at start
started silently and mid-run wrote 1,000 log lines in 10 s; a foreign lock on
the SQLite file made a write 500 after 10 s and blocked another tenant's reads
for 14.7 s (docs/security.md, "Faults")."""

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.testing import ParleyServer
from tests.conftest import POSTGRES_URL, REDIS_URL, fresh_database
from tests.contract.test_bus import _redis_or_skip
from tests.hardening.proxy import Proxy


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["code"], body["status"]) == (20503, 503)
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20503"
    assert int(response.headers["retry-after"]) >= 1


def _state_lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "parley.health" and r.getMessage().startswith(name)
    ]


def _wait(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.postgres
def test_postgres_down_is_a_503_with_retry_after_and_service_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "parley.health")
    with fresh_database("postgres", tmp_path) as url:
        host = POSTGRES_URL.split("@", 1)[1].split("/", 1)[0]
        proxy = Proxy(host.split(":")[0], int(host.split(":")[1])).start()
        proxied = url.replace(host, f"127.0.0.1:{proxy.port}")
        try:
            with ParleyServer(proxied, webhook_poll=0.05) as server:
                creds = server.create_credentials()
                auth = (creds.account_sid, creds.auth_token)
                with httpx.Client(base_url=server.url, auth=auth, timeout=30) as http:
                    assert http.post("/v2/Services", data={"FriendlyName": "a"}).status_code == 201
                    proxy.stop()
                    started = time.monotonic()
                    _unavailable(http.post("/v2/Services", data={"FriendlyName": "b"}))
                    _unavailable(http.get("/v2/Services"))
                    assert time.monotonic() - started < 15
                    ready = http.get("/readyz")
                    assert ready.status_code == 503
                    assert ready.json()["checks"]["database"]["ok"] is False
                    assert http.get("/healthz").status_code == 200  # alive, not ready
                    time.sleep(1.0)  # the worker and the poller keep failing meanwhile
                    assert len(_state_lines(caplog, "database is unavailable")) == 1

                    proxy.start()  # the same address, back

                    def serving() -> bool:
                        return http.get("/v2/Services").status_code == 200

                    _wait(serving)
                    names = [
                        s["friendly_name"] for s in http.get("/v2/Services").json()["services"]
                    ]
                    assert names == ["a"]  # the refused write left nothing behind
                    assert http.post("/v2/Services", data={"FriendlyName": "c"}).status_code == 201
                    _wait(lambda: http.get("/readyz").status_code == 200)
                    assert _state_lines(caplog, "database is available again")
        finally:
            proxy.stop()


def test_a_foreign_lock_on_sqlite_is_a_prompt_503_and_reads_go_on(tmp_path: Path) -> None:
    path = tmp_path / "parley.db"
    with ParleyServer(f"sqlite:///{path}") as server:
        assert server.app.store is not None
        server.app.store.lock_timeout = 1.0  # type: ignore[attr-defined]
        writer, reader = server.create_credentials(), server.create_credentials()
        w = httpx.Client(base_url=server.url, auth=(writer.account_sid, writer.auth_token))
        r = httpx.Client(base_url=server.url, auth=(reader.account_sid, reader.auth_token))
        try:
            assert r.post("/v2/Services", data={"FriendlyName": "mine"}).status_code == 201
            foreign = sqlite3.connect(path, isolation_level=None, timeout=0)
            foreign.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            answers: list[tuple[httpx.Response, float]] = []

            def write() -> None:
                started = time.monotonic()
                response = w.post("/v2/Services", data={"FriendlyName": "blocked"})
                answers.append((response, time.monotonic() - started))

            thread = threading.Thread(target=write)
            thread.start()
            time.sleep(0.2)
            for _ in range(5):  # another tenant's reads are not held up meanwhile
                started = time.monotonic()
                assert r.get("/v2/Services").status_code == 200
                assert time.monotonic() - started < 0.5
            thread.join(10)
            [(response, waited)] = answers
            _unavailable(response)
            assert 0.8 < waited < 3
            foreign.execute("ROLLBACK")
            foreign.close()
            assert w.post("/v2/Services", data={"FriendlyName": "free"}).status_code == 201
            names = [s["friendly_name"] for s in w.get("/v2/Services").json()["services"]]
            assert names == ["free"]
        finally:
            w.close()
            r.close()


@pytest.mark.redis
def test_redis_down_at_start_and_mid_run_is_reported_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _redis_or_skip()
    caplog.set_level(logging.INFO, "parley.health")
    host, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = Proxy(host, int(port))
    proxy.start()
    proxy.stop()  # a port where Redis is not (yet)
    url = f"redis://127.0.0.1:{proxy.port}/0"
    try:
        with ParleyServer(redis_url=url) as server:  # starts anyway
            creds = server.create_credentials()
            with httpx.Client(
                base_url=server.url, auth=(creds.account_sid, creds.auth_token)
            ) as http:
                ready = http.get("/readyz")
                assert ready.status_code == 200  # degraded: the outbox still carries events
                assert ready.json()["status"] == "degraded"
                assert ready.json()["checks"]["redis"]["ok"] is False
                assert http.post("/v2/Services", data={"FriendlyName": "x"}).status_code == 201
                time.sleep(2.0)  # reconnection attempts go on quietly
                assert len(_state_lines(caplog, "redis is unavailable")) == 1

                proxy.start()
                _wait(lambda: http.get("/readyz").json()["checks"]["redis"]["ok"])
                assert http.get("/readyz").json()["status"] == "ok"
                assert len(_state_lines(caplog, "redis is available again")) == 1

                proxy.stop()  # mid-run
                for n in range(20):
                    http.post("/v2/Services", data={"FriendlyName": f"during {n}"})
                _wait(lambda: not http.get("/readyz").json()["checks"]["redis"]["ok"])
                time.sleep(2.0)
                assert len(_state_lines(caplog, "redis is unavailable")) == 2
                proxy.start()
                _wait(lambda: http.get("/readyz").json()["checks"]["redis"]["ok"])
                assert len(_state_lines(caplog, "redis is available again")) == 2
    finally:
        proxy.stop()
