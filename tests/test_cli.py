"""The ``parley`` command as a new user runs it (README "Quick start")."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
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


def test_make_run_lets_the_environment_choose_port_and_database(tmp_path: Path) -> None:
    """Issue 18: `make run` passed its own --port and --database-url, so
    PARLEY_PORT and PARLEY_DATABASE_URL were ignored."""
    root = Path(__file__).resolve().parent.parent
    venv = Path(sys.prefix)  # the environment running these tests
    port = free_port()
    db = tmp_path / "from-env.db"
    env = {
        **os.environ,
        "PARLEY_PORT": str(port),
        "PARLEY_DATABASE_URL": f"sqlite:///{db}",
        "HOST": "not-a-host",  # shells export HOST: it is not make's HOST
    }
    env.pop("MAKEFLAGS", None)
    # -o: the environment is installed already; do not reinstall it
    command = ["make", "-s", "-C", str(root), f"VENV={venv}", "-o", f"{venv}/.installed", "run"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("Base URL" in ln for ln in lines):
            lines.append(process.stdout.readline())
        assert f"Base URL:    http://127.0.0.1:{port}" in "".join(lines), lines
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("make run did not serve on PARLEY_PORT")
        assert db.exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        if process.stdout:
            process.stdout.close()
    dry = subprocess.run(
        [
            "make",
            "-n",
            "-C",
            str(root),
            f"VENV={venv}",
            "-o",
            f"{venv}/.installed",
            "run",
            "PORT=9999",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "--port 9999" in dry.stdout and "--database-url" not in dry.stdout
