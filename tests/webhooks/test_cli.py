"""``parley webhooks failed`` lists deliveries that gave up, with their attempts."""

import json
from pathlib import Path

from click.testing import CliRunner

from parley.cli import main
from tests.conftest import start_server
from tests.webhooks.conftest import FAST, Events
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_durability import _setup


def test_failed_lists_what_gave_up(tmp_path: Path, receiver: Receiver) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    server = start_server(db, **FAST)
    try:
        assert server.app.store is not None
        account, service_sid = server.run(_setup(server.app.store, receiver.url(), retries=1))
        other, other_service = server.run(_setup(server.app.store, receiver.url("/ok")))
        receiver.reply = lambda r: 200 if r.path == "/ok" else 503
        Events(server, other, other_service).emit(
            "onUserAdded", Events(server, other, other_service).user("fine")
        )
        events = Events(server, account, service_sid)
        user = events.user("zed")
        events.emit("onUserAdded", user)
        receiver.wait_for(3)
        receiver.quiet(0.3)
    finally:
        server.stop()
    runner = CliRunner()
    result = runner.invoke(main, ["webhooks", "failed", "--database-url", db])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 1
    (row,) = rows
    assert row["account_sid"] == account.sid and row["kind"] == "onUserAdded"
    assert row["last_status"] == 503 and row["attempts"] == 2
    assert [(a["retry_count"], a["status"]) for a in row["attempt_log"]] == [(0, 503), (1, 503)]
    assert all(a["latency_ms"] is not None for a in row["attempt_log"])
    mine = runner.invoke(main, ["webhooks", "failed", "--account", other.sid, "--database-url", db])
    assert mine.exit_code == 0 and mine.output == ""
