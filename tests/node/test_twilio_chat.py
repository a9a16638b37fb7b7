"""The real npm twilio-chat (6.0.0 and 5.0.2) in Node against a real Parley.

Skipped when Node or ``tests/node/node_modules`` (``npm ci``) is missing, except
under CI=true, where it must run.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account, Server
from tests.realtime.helpers import make_key, token

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")
READY = NODE is not None and (HERE / "node_modules" / "twilio-chat").is_dir()

if not READY and os.environ.get("CI") != "true":
    pytest.skip("node or tests/node/node_modules missing (make node-deps)", allow_module_level=True)


@pytest.mark.parametrize("package", ["twilio-chat", "twilio-chat-5"])
def test_scenarios(server: Server, account: Account, service: Any, package: str) -> None:
    assert READY, "CI=true: Node and `npm ci` in tests/node are required"
    key = make_key(server, account.sid)
    tokens = {
        "alice": token(account.sid, key, "alice", service.sid),
        "bob": token(account.sid, key, "bob", service.sid),
        "alice_refreshed": token(account.sid, key, "alice", service.sid, ttl=7200),
    }
    env = {
        **os.environ,
        "PARLEY_WS": server.url.replace("http://", "ws://") + "/v3/wsconnect",
        "PARLEY_REST": server.url,
        "PARLEY_ACCOUNT_SID": account.sid,
        "PARLEY_AUTH_TOKEN": account.auth_token,
        "PARLEY_SERVICE_SID": service.sid,
        "PARLEY_TOKENS": json.dumps(tokens),
        "PARLEY_UNIQUE": f"general-{package}",
    }
    assert NODE is not None
    done = subprocess.run(
        [NODE, "scenarios.js", package],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok done" in done.stdout
