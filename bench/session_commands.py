"""What protocol version 2 costs a write: ``python -m bench.session_commands``.

One Parley (SQLite, on a thread of this process) and one raw twilsock client
(``bench.fanout.Client``) that is a member of a channel and has a session list
(docs/realtime-protocol.md §9). It sends the same message two ways, in
alternating batches with each side first in every other round (ABBA): version
1's tunnelled ``POST …/Messages``, and version 2's ``sendMessage`` command
appended to the session list (the same client action, plus the item, its
answer and the idempotence check in the action's transaction). Reported: the
median of each side's batches in ms per request, and their ratio.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant

from bench.fanout import Client
from parley.testing import ParleyServer


async def measure(url: str, token: str, service: str, channel: str, args: Any) -> None:
    client = Client(url.replace("http://", "ws://") + "/v3/wsconnect", token)
    await client.open()
    session = {"purpose": "com.twilio.rtd.ipmsg", "context": {}}
    status, made = await client.request("POST", "/v3/Lists", session)
    assert status == 201, made
    messages = f"/Client/v1/Services/{service}/Conversations/{channel}/Messages"
    items = f"/v3/Lists/{made['sid']}/Items"

    async def version_1() -> None:
        status, body = await client.request("POST", messages, {"body": "x"})
        assert status == 201, body

    async def version_2() -> None:
        request = {"action": "sendMessage", "channelSid": channel, "text": "x"}
        data = {"commandId": str(uuid.uuid4()), "request": request}
        status, body = await client.request("POST", items, {"data": data})
        assert status == 201 and body["index"] >= 0, body

    sides = {"version 1": version_1, "version 2": version_2}
    seen: dict[str, list[float]] = {name: [] for name in sides}
    for turn in range(args.rounds):
        order = list(sides) if turn % 2 == 0 else list(reversed(sides))
        for name in order:
            started = time.perf_counter()
            for _ in range(args.n):
                await sides[name]()
            seen[name].append((time.perf_counter() - started) / args.n * 1000)
    await client.close()
    medians = {name: statistics.median(times) for name, times in seen.items()}
    for name, median in medians.items():
        print(f"{name}: {median:.2f} ms/request (batches: {[round(t, 2) for t in seen[name]]})")
    print(f"ratio version 2 / version 1: {medians['version 2'] / medians['version 1']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="requests per batch")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = ParleyServer(f"sqlite:///{Path(tmp) / 'bench.db'}").start()
        try:
            credentials = server.create_credentials("bench")
            rest = server.client(credentials)
            service = rest.chat.v2.services.create(friendly_name="bench")
            channel = rest.chat.v2.services(service.sid).channels.create(friendly_name="c")
            rest.chat.v2.services(service.sid).channels(channel.sid).members.create(
                identity="alice"
            )
            built = AccessToken(
                credentials.account_sid,
                credentials.api_key_sid,
                credentials.api_key_secret,
                identity="alice",
            )
            built.add_grant(ChatGrant(service_sid=service.sid))
            asyncio.run(measure(server.url, built.to_jwt(), service.sid, channel.sid, args))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
