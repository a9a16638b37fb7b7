"""The fan-out's at-once path (``SessionSubscriptions.deliver_at_once``): it
writes what ``deliver`` would have sent, and leaves everything else to it."""

import asyncio
import collections
from types import SimpleNamespace
from typing import Any

from parley.realtime.subscriptions import Live, SessionSubscriptions, _Lock


class Socket:
    """A session whose socket takes ``room`` more frames at once."""

    def __init__(self, room: int = 100) -> None:
        self.room = room
        self.written: list[bytes] = []

    def write_now(self, data: bytes, message: bytes | None = None) -> bool:
        if self.room <= 0:
            return False
        self.room -= 1
        self.written.append(data)
        return True


def subscribed(socket: Socket, position: int) -> SessionSubscriptions:
    runtime: Any = SimpleNamespace(store=None, base_url="http://parley")
    subs = SessionSubscriptions(socket, runtime)  # type: ignore[arg-type]
    subs.positions["ES1"] = position
    return subs


def live(*event_ids: int, removes: int | None = None) -> list[Live]:
    return [(n, b"frame %d" % n, b"message %d" % n, n == removes) for n in event_ids]


def test_events_after_the_position_are_written_and_move_it() -> None:
    socket = Socket()
    subs = subscribed(socket, 4)
    assert subs.deliver_at_once("ES1", live(3, 4, 5, 6))
    assert socket.written == [b"frame 5", b"frame 6"]  # 3 and 4 it has
    assert subs.positions["ES1"] == 6


def test_a_removal_ends_the_subscription() -> None:
    socket = Socket()
    subs = subscribed(socket, 4)
    assert subs.deliver_at_once("ES1", live(5, 6, removes=5))
    assert socket.written == [b"frame 5"]
    assert "ES1" not in subs.positions


def test_a_gap_is_left_to_deliver() -> None:
    socket = Socket()
    subs = subscribed(socket, 4)
    assert not subs.deliver_at_once("ES1", live(6, 7))
    assert socket.written == [] and subs.positions["ES1"] == 4


def test_a_socket_that_stops_taking_frames_leaves_the_rest_to_deliver() -> None:
    socket = Socket(room=1)
    subs = subscribed(socket, 4)
    assert not subs.deliver_at_once("ES1", live(5, 6))
    assert socket.written == [b"frame 5"] and subs.positions["ES1"] == 5


def test_a_busy_session_is_left_to_deliver() -> None:
    async def run() -> None:
        socket = Socket()
        subs = subscribed(socket, 4)
        async with subs.lock:
            assert not subs.deliver_at_once("ES1", live(5))
        subs._backlog = collections.deque([lambda paced: asyncio.sleep(0)])
        assert not subs.deliver_at_once("ES1", live(5))
        assert socket.written == []

    asyncio.run(run())


def test_the_lock_is_idle_only_when_taking_it_would_not_wait() -> None:
    async def run() -> None:
        lock = _Lock()
        assert lock.idle()
        await lock.acquire()
        assert not lock.idle()
        waiter = asyncio.create_task(lock.acquire())
        await asyncio.sleep(0)
        lock.release()
        # free, but handed to the waiter: a writer now would overtake it
        assert not lock.locked() and not lock.idle()
        await waiter
        lock.release()
        assert lock.idle()

    asyncio.run(run())
