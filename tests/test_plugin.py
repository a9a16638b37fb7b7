"""The pytest plugin as a user's project sees it (run through ``pytester``)."""

import pytest

USER_TESTS = """
from twilio.base.exceptions import TwilioRestException


def test_client_is_ready(parley_client, parley_service):
    assert parley_client.chat.base_url.startswith("http://127.0.0.1:")
    fetched = parley_client.chat.v2.services(parley_service.sid).fetch()
    assert fetched.friendly_name == "test service"
    parley_client.chat.v2.services.create(friendly_name="leaks?")


def test_state_does_not_leak(parley_client, parley_service):
    names = [s.friendly_name for s in parley_client.chat.v2.services.list()]
    assert names == ["test service"]


def test_session_client_keeps_state(parley_session_client, parley_session_service):
    sid = parley_session_service.sid
    assert parley_session_client.chat.v2.services(sid).fetch().sid == sid


def test_session_state_survives_resets(parley_session_client, parley_session_service):
    sids = [s.sid for s in parley_session_client.chat.v2.services.list()]
    assert sids == [parley_session_service.sid]


def test_pushes_are_recorded(parley, parley_client, parley_service):
    rest = parley_client.chat.v2.services(parley_service.sid)
    rest.update(notifications_new_message_enabled=True)
    parley.seed({
        "credentials": [{"friendly_name": "android", "type": "fcm", "secret": "server-key"}],
        "services": [{
            "friendly_name": "test service",
            "bindings": [
                {"identity": "bob", "endpoint": "bobs-phone", "binding_type": "fcm",
                 "credential": "android"},
            ],
            "channels": [{"unique_name": "general", "members": ["alice", "bob"]}],
        }],
    })
    rest.channels("general").messages.create(body="wake up", from_="alice")
    (push,) = parley.wait_for_pushes(identity="bob")
    assert push["state"] == "recorded" and push["type"] == "new_message"
    assert push["body"] == "general;alice: wake up" and push["address"] == "bobs-phone"
    assert parley.pushes(identity="alice") == []


def test_reset_on_demand(parley, parley_client):
    parley_client.chat.v2.services.create(friendly_name="gone soon")
    parley.reset()
    assert parley_client.chat.v2.services.list() == []
"""


def test_fixtures_work_and_state_does_not_leak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6)


def test_parley_server_without_pytest() -> None:
    from twilio.rest import Client

    from parley.testing import ParleyServer

    with ParleyServer() as server:
        creds = server.create_credentials()
        client: Client = server.client(creds)
        assert client.chat.v2.services.create(friendly_name="x").account_sid == creds.account_sid


def test_client_fixture_without_the_twilio_sdk_says_what_to_install(
    pytester: pytest.Pytester,
) -> None:
    """Issue 18: it failed with a bare ModuleNotFoundError: twilio."""
    pytester.makeconftest(
        "import sys\n"
        "# the project has no twilio SDK installed\n"
        "for name in ('twilio', 'twilio.rest'):\n"
        "    sys.modules[name] = None\n"
    )
    pytester.makepyfile(
        test_user="def test_uses_the_client(parley_client):\n    pass\n\n"
        "def test_needs_no_client(parley):\n    assert parley.url\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*pip install twilio*parley[[]testing[]]*"])
    result.stdout.no_fnmatch_line("*ModuleNotFoundError*")
    result.stdout.no_fnmatch_line("*halted*")
