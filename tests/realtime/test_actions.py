"""Client actions are declarations with one runner (parley/realtime/chat/actions.py)."""

import pytest

from parley.realtime import routes
from parley.realtime.chat import actions, messages


def test_every_client_action_is_found_by_its_name() -> None:
    found = routes.actions()
    assert found.names == sorted(
        [
            "addMember",
            "createChannel",
            "declineInvite",
            "destroyChannel",
            "inviteMember",
            "removeMember",
            "removeMessage",
            "sendMessage",
            "updateChannel",
            "updateMember",
            "updateMessage",
            "updateUser",
            "updateUserChannel",
        ]
    )
    assert found["sendMessage"] is messages.SEND
    assert "typing" not in found  # typing writes nothing: a signal, not an action


def test_two_actions_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="sendMessage"):
        actions.Actions([messages.SEND, messages.SEND])
