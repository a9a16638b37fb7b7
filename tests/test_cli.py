"""The ``parley`` command as a new user runs it (README "Quick start")."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from parley.cli import main
from tests.conftest import free_port


def test_accounts_and_keys_create(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    made = runner.invoke(
        main, ["accounts", "create", "--friendly-name", "X", "--database-url", url]
    )
    assert made.exit_code == 0, made.output
    account = json.loads(made.output)
    assert re.fullmatch(r"AC[0-9a-f]{32}", account["sid"]) and account["auth_token"]
    key = runner.invoke(
        main, ["keys", "create", "--account-sid", account["sid"], "--database-url", url]
    )
    assert key.exit_code == 0, key.output
    assert re.fullmatch(r"SK[0-9a-f]{32}", json.loads(key.output)["sid"])
    missing = runner.invoke(
        main, ["keys", "create", "--account-sid", "AC" + "0" * 32, "--database-url", url]
    )
    assert missing.exit_code != 0 and "no account" in missing.output


def test_dev_server_prints_a_working_account(tmp_path: Path) -> None:
    """What `make run` does: start, print an account, serve the seed's SDK calls."""
    port = free_port()
    env = {**os.environ, "PARLEY_DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "dev", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("Auth Token" in ln for ln in lines):
            lines.append(process.stdout.readline())
        text = "".join(lines)
        sid = re.search(r"Account SID: (AC[0-9a-f]{32})", text)
        token = re.search(r"Auth Token:  ([0-9a-f]{32})", text)
        assert sid and token, text
        client = Client(sid.group(1), token.group(1))
        client.chat.base_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                created = client.chat.v2.services.create(friendly_name="from the README")
                break
            except Exception:
                time.sleep(0.1)
        else:
            pytest.fail("the dev server did not answer")
        assert client.chat.v2.services(created.sid).fetch().friendly_name == "from the README"
        client.chat.v2.services(created.sid).update(friendly_name="renamed")
        assert [s.friendly_name for s in client.chat.v2.services.list()] == ["renamed"]
        client.chat.v2.services(created.sid).delete()
        with pytest.raises(TwilioRestException):
            client.chat.v2.services(created.sid).fetch()
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()
