"""The examples of docs/testing.md run: the pytest one through ``pytester``,
the Node one (twilio-node 5.x) with ``node`` against a ParleyServer."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from parley.testing import ParleyServer

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "testing.md"
PYTEST_EXAMPLE = ROOT / "examples" / "pytest" / "test_app.py"
NODE_EXAMPLE = ROOT / "examples" / "node"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _blocks(language: str) -> list[str]:
    text = DOC.read_text("utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_docs_show_the_examples_as_they_are() -> None:
    assert PYTEST_EXAMPLE.read_text("utf-8") in _blocks("python")
    assert (NODE_EXAMPLE / "test.js").read_text("utf-8") in _blocks("js")


def test_pytest_example_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=PYTEST_EXAMPLE.read_text("utf-8"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=5)


def test_node_example_runs() -> None:
    node = shutil.which("node")
    installed = (NODE_EXAMPLE / "node_modules" / "twilio").is_dir()
    if node is None or not installed:
        if IN_CI:
            pytest.fail("CI=true: node and examples/node/node_modules are required (make test)")
        pytest.skip("node or examples/node/node_modules missing (make test runs npm ci)")
    with ParleyServer() as server:
        creds = server.create_credentials()
        env = {
            **os.environ,
            "PARLEY_URL": server.url,
            "TWILIO_ACCOUNT_SID": creds.account_sid,
            "TWILIO_AUTH_TOKEN": creds.auth_token,
        }
        env.pop("TWILIO_REGION", None)
        env.pop("TWILIO_EDGE", None)
        run = subprocess.run(
            [node, "--test", "test.js"],
            cwd=NODE_EXAMPLE,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# pass 2" in run.stdout and "# fail 0" in run.stdout
