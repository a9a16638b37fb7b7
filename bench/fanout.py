"""Real-time fan-out: one message to N connected clients on one Parley process.

    python -m bench.fanout [--clients 1000] [--messages 20] [--database-url …]

Starts ``parley serve`` (one process), makes a service with a channel of N
members, connects N raw twilsock clients (one WebSocket each, as many
twilio-chat clients would), subscribes each to the channel's messages list,
then posts messages over REST and measures, per client and message, the time
from just before the POST to the arrival of that message's Sync event.
Reports p50/p99 delivery latency, the server's own part of it (p50/p99 of the
time one commit takes to reach every subscribed session's socket, from Parley's
``parley_sync_fanout_seconds`` histogram on /metrics, to a bucket's bound),
the CPU time per message of the server and of the clients' process (user +
system time over the messages, divided by their number) and the server's
memory per idle connection (RSS after connecting minus before, divided by N).
The clients share one asyncio process on the server's cores, whose own
scheduling is part of the figure.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import secrets
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant
from websockets.speedups import apply_mask

from parley import sids
from parley.realtime import frames
from parley.testing import free_port


def rss_mb(pid: int) -> float:
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1])
    return total / 1024


def cpu_s(pid: int) -> float:
    """The process's CPU time so far (user + system), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


FANOUT_METRIC = "parley_sync_fanout_seconds"


async def fanout_buckets(http: httpx.AsyncClient) -> dict[float, float]:
    """Parley's fan-out histogram (cumulative count per upper bound, seconds),
    and its sum (seconds) under the key -1."""
    text = (await http.get("/metrics")).text
    out = {}
    for line in text.splitlines():
        if line.startswith(FANOUT_METRIC + "_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if bound == "+Inf" else float(bound)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith(FANOUT_METRIC + "_sum"):
            out[-1.0] = float(line.rsplit(" ", 1)[1])
    return out


def server_mean(before: dict[float, float], after: dict[float, float]) -> float:
    """The mean (ms) of what the run added to the histogram."""
    count = after.get(float("inf"), 0.0) - before.get(float("inf"), 0.0)
    total = after.get(-1.0, 0.0) - before.get(-1.0, 0.0)
    return round(total / count * 1000, 1) if count else float("nan")


def server_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound (ms) of the bucket holding quantile ``q`` of what the run added."""
    counts = sorted((b, n - before.get(b, 0.0)) for b, n in after.items() if b >= 0)
    total = counts[-1][1] if counts else 0.0
    for bound, n in counts:
        if total and n >= q * total:
            return round(bound * 1000, 1)
    return float("nan")


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def client_message(data: bytes) -> bytes:
    """``data`` as a client's WebSocket binary message: one final frame,
    masked with a fresh key (RFC 6455 §5.3)."""
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    mask = random.randbytes(4)
    return head + mask + apply_mask(data, mask)


class Client(asyncio.Protocol):
    """A raw twilsock client: init, tunnelled requests, acked notifications,
    over a WebSocket it frames itself on an asyncio transport. A thousand of
    them share this process and its cores with the server: a client library's
    layers per frame (websockets' asyncio connection: its parser, queues,
    locks and a task per socket) made the clients' own reading most of what
    was measured, so each client does what the SDK must (read the frame,
    parse it, acknowledge a notification) and no more."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "", parts.port or 80, parts.path
        self.token = token
        self.transport: asyncio.Transport | None = None
        self.replies: dict[str, asyncio.Future[tuple[dict[str, Any], Any]]] = {}
        self.established = asyncio.Event()
        self.arrivals: dict[str, float] = {}  # message text -> monotonic arrival
        self._n = 0
        self._buffer = b""
        self._upgraded: asyncio.Future[None] | None = None
        self._key = base64.b64encode(random.randbytes(16))

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._upgraded = loop.create_future()
        transport, _ = await loop.create_connection(lambda: self, self.host, self.port)
        transport.write(
            b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
            % (self.path.encode(), self.host.encode(), self.port, self._key)
        )
        await asyncio.wait_for(self._upgraded, 60)
        await self._call(
            {
                "method": "init",
                "token": self.token,
                "continuation_token": None,
                "capabilities": ["client_update"],
                "metadata": {"type": "chat", "sdk": "bench"},
                "registrations": [],
            }
        )

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        header = {
            "method": "message",
            "active_grant": "ip_messaging",
            "http_request": {
                "host": "cds.us1.twilio.com",
                "path": path,
                "method": method,
                "params": {},
                "headers": {"Content-Type": "application/json"},
            },
        }
        reply, data = await self._call(header, body)
        return int(reply["http_status"]["code"]), data

    async def _call(
        self, header: dict[str, Any], payload: Any = None
    ) -> tuple[dict[str, Any], Any]:
        self._n += 1
        header["id"] = f"TMbench{self._n}"
        future: asyncio.Future[tuple[dict[str, Any], Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self.replies[header["id"]] = future
        self._send(frames.encode(header, payload))
        return await asyncio.wait_for(future, 60)

    def _send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(client_message(data))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._upgraded is not None and not self._upgraded.done():
            self._upgraded.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        # arrival: when the client has the bytes, before its own work on them
        # (parsing, the acks it writes back)
        arrived = time.monotonic()
        buffer = self._buffer + data if self._buffer else data
        assert self._upgraded is not None
        if not self._upgraded.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            response, buffer = buffer[:end], buffer[end + 4 :]
            accept = base64.b64encode(hashlib.sha1(self._key + WS_GUID).digest())
            if not response.startswith(b"HTTP/1.1 101") or accept not in response:
                self._upgraded.set_exception(ConnectionError(response.decode(errors="replace")))
                return
            self._upgraded.set_result(None)
        start, size = 0, len(buffer)
        while size - start >= 2:
            first, second = buffer[start], buffer[start + 1] & 0x7F
            head = start + 2
            if second == 126:
                if size - head < 2:
                    break
                (second,) = struct.unpack_from("!H", buffer, head)
                head += 2
            elif second == 127:
                if size - head < 8:
                    break
                (second,) = struct.unpack_from("!Q", buffer, head)
                head += 8
            if size - head < second:
                break
            start = head + second
            opcode = first & 0x0F
            if opcode == 0x2:  # the server sends each frame as one binary message
                self._frame(buffer[head:start], arrived)
            elif opcode == 0x9:  # ping (uvicorn's keepalive): pong, masked
                assert self.transport is not None
                pong = buffer[head:start]
                mask = random.randbytes(4)
                self.transport.write(
                    bytes((0x8A, 0x80 | len(pong))) + mask + apply_mask(pong, mask)
                )
            elif opcode == 0x8:  # close
                assert self.transport is not None
                self.transport.close()
                return
        self._buffer = buffer[start:]

    def _frame(self, data: bytes, arrived: float) -> None:
        frame = frames.parse(data)
        header, payload = frame.header, frame.payload
        if frame.method == "reply":
            future = self.replies.pop(str(header.get("id")), None)
            if future is not None and not future.done():
                future.set_result((header, payload))
            return
        if frame.method == "close":
            return
        self._send(frames.encode({"method": "reply", "id": frame.id, "status": {"code": 200}}))
        if frame.method != "notification" or not isinstance(payload, dict):
            return
        kind = payload.get("event_type")
        if kind == "subscription_established":
            self.established.set()
        elif kind == "list_item_added":
            text = payload["event"].get("item_data", {}).get("text")
            if text is not None:
                self.arrivals[text] = arrived

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.write(b"\x88\x82" + b"\0" * 4 + struct.pack("!H", 1000))
            self.transport.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    account_sid, token = sids.new_sid(sids.ACCOUNT), secrets.token_hex(16)
    folder = tempfile.mkdtemp(prefix="parley-fanout-")
    database_url = args.database_url or f"sqlite:///{folder}/fanout.db"
    env = {**os.environ, "PARLEY_DATABASE_URL": database_url}
    key = json.loads(
        subprocess.run(
            [sys.executable, "-m", "parley", "accounts", "create"],
            env=env,
            capture_output=True,
            check=True,
        ).stdout
    )
    account_sid, token = key["sid"], key["auth_token"]
    api_key = json.loads(
        subprocess.run(
            [sys.executable, "-m", "parley", "keys", "create", "--account-sid", account_sid],
            env=env,
            capture_output=True,
            check=True,
        ).stdout
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, auth=(account_sid, token), timeout=60) as http:
            for _ in range(200):
                try:
                    if (await http.get("/v2/Services")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
            service = (await http.post("/v2/Services", data={"FriendlyName": "fanout"})).json()[
                "sid"
            ]
            await http.post(f"/v2/Services/{service}", data={"Limits.ChannelMembers": "1000"})
            channel = (
                await http.post(f"/v2/Services/{service}/Channels", data={"UniqueName": "all"})
            ).json()["sid"]
            for i in range(args.clients):
                made = await http.post(
                    f"/v2/Services/{service}/Channels/{channel}/Members", data={"Identity": f"u{i}"}
                )
                assert made.status_code == 201, made.text

            def jwt(identity: str) -> str:
                built = AccessToken(
                    account_sid, api_key["sid"], api_key["secret"], identity=identity, ttl=3600
                )
                built.add_grant(ChatGrant(service_sid=service))
                return str(built.to_jwt())

            ws_url = base.replace("http://", "ws://") + "/v3/wsconnect"
            before = rss_mb(server.pid)
            clients = [Client(ws_url, jwt(f"u{i}")) for i in range(args.clients)]
            started = time.monotonic()
            for batch in range(0, len(clients), 50):
                await asyncio.gather(*(c.open() for c in clients[batch : batch + 50]))

            async def subscribe(c: Client) -> None:
                status, listed = await c.request("GET", f"/v3/Lists/{channel}.messages")
                assert status == 200, listed
                body = {
                    "event_protocol_version": 4,
                    "action": "establish",
                    "correlation_id": 1,
                    "retried_requests": 0,
                    "ttl_in_s": -1,
                    "requests": [
                        {
                            "object_sid": listed["sid"],
                            "object_type": "list",
                            "last_event_id": listed["last_event_id"],
                        }
                    ],
                }
                status, reply = await c.request("POST", "/v4/Subscriptions", body)
                assert status == 202, reply
                await asyncio.wait_for(c.established.wait(), 60)

            for batch in range(0, len(clients), 50):
                await asyncio.gather(*(subscribe(c) for c in clients[batch : batch + 50]))
            connect_s = time.monotonic() - started
            await asyncio.sleep(1.0)
            after = rss_mb(server.pid)

            fanout_before = await fanout_buckets(http)
            cpu_before, own_before = cpu_s(server.pid), time.process_time()
            latencies: list[float] = []
            post_ms: list[float] = []
            for n in range(args.messages):
                text = f"m{n}"
                sent = time.monotonic()
                posted = await http.post(
                    f"/v2/Services/{service}/Channels/{channel}/Messages",
                    data={"Body": text, "From": "u0"},
                )
                assert posted.status_code == 201
                post_ms.append((time.monotonic() - sent) * 1000)
                deadline = time.monotonic() + 30
                while any(text not in c.arrivals for c in clients) and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                latencies += [
                    (c.arrivals[text] - sent) * 1000 for c in clients if text in c.arrivals
                ]
                await asyncio.sleep(args.gap)
            server_cpu = cpu_s(server.pid) - cpu_before
            clients_cpu = time.process_time() - own_before
            missing = args.clients * args.messages - len(latencies)
            fanout_after = await fanout_buckets(http)
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    finally:
        server.terminate()
        server.wait(30)
    latencies.sort()
    return {
        "clients": args.clients,
        "messages": args.messages,
        "deliveries": len(latencies),
        "missing": missing,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "max_ms": round(latencies[-1], 1),
        "rest_post_p50_ms": round(statistics.median(post_ms), 1),
        # the server's part: one commit handed to every subscribed session,
        # from Parley's own histogram (a bucket's upper bound)
        "server_fanout_p50_ms": server_quantile(fanout_before, fanout_after, 0.5),
        "server_fanout_p99_ms": server_quantile(fanout_before, fanout_after, 0.99),
        "server_fanout_mean_ms": server_mean(fanout_before, fanout_after),
        # everything the server did per message: the POST, the fan-out, the
        # clients' acknowledgements (and its timers meanwhile)
        "server_cpu_ms_per_message": round(server_cpu * 1000 / args.messages, 1),
        "clients_cpu_ms_per_message": round(clients_cpu * 1000 / args.messages, 1),
        "connect_and_subscribe_s": round(connect_s, 1),
        "rss_before_mb": round(before, 1),
        "rss_connected_mb": round(after, 1),
        "kb_per_idle_connection": round((after - before) * 1024 / args.clients, 1),
        "database": database_url.split(":")[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between messages")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    # the clients run on uvloop, as the server does (uvicorn[standard]): the
    # measuring side should cost as little as it can on the shared cores
    import uvloop

    result = uvloop.run(main_async(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
