"""Real protocol peers for push delivery, on 127.0.0.1, with a test CA.

- ``FakeApns``: HTTP/2 over TLS (the ``h2`` library on asyncio), *requiring* a client certificate
  issued by the test CA, serving ``POST /3/device/{token}`` like Apple's
  provider API: 200 with an ``apns-id``, or a scripted status and reason.
- ``FakeFcm``: HTTP/2 over TLS too, serving the OAuth2 token endpoint (it
  checks the JWT-bearer assertion's RS256 signature against the service
  account's key), ``POST /v1/projects/{id}/messages:send`` (Bearer token) and
  the legacy ``POST /fcm/send`` (``Authorization: key=…``).

Both record every request (path, headers, JSON body, HTTP version, client
address: one address per connection) and answer from a per-token script
first. ``stop()`` then ``start()`` brings a gateway down and back on the same
port. ``ca.cert_pem`` is what SSL_CERT_FILE points at.
"""

import asyncio
import datetime
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt
import orjson
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from parley.testing import free_port

BUNDLE_ID = "com.example.parleychat"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: Any
    http_version: str
    client: tuple[str, int]  # one per connection
    subject: str = ""  # the client certificate's subject (APNs)
    at: float = field(default_factory=time.perf_counter)


# a scripted answer: (status, JSON body or None, extra headers)
Answer = tuple[int, Any, dict[str, str]]


class _Peer:
    def __init__(self, ca: trustme.CA, *, require_client_cert: bool) -> None:
        self.ca = ca
        self.port = free_port()
        self.require_client_cert = require_client_cert
        self.hits: list[Hit] = []
        self.lock = threading.Condition()
        self.script: dict[str, list[Answer]] = {}  # per device token
        self.delay = 0.0  # seconds each answer waits (pushes stay in flight)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transports: set[Any] = set()
        self._files = tempfile.TemporaryDirectory(prefix="parley-fake-gw-")
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.certfile = Path(self._files.name) / "server.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.certfile))
        self.cafile = Path(self._files.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(self.cafile))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def answer(self, token: str, *answers: Answer) -> None:
        """The next requests for ``token`` get these answers, in order."""
        with self.lock:
            self.script.setdefault(token, []).extend(answers)

    def _scripted(self, token: str) -> Answer | None:
        with self.lock:
            queue = self.script.get(token)
            return queue.pop(0) if queue else None

    def record(self, hit: Hit) -> None:
        with self.lock:
            self.hits.append(hit)
            self.lock.notify_all()

    def wait(self, count: int, timeout: float = 15.0, path: str = "") -> list[Hit]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [h for h in self.hits if h.path.startswith(path)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests to {path!r}, got {len(found)}")
                self.lock.wait(left)

    def start(self) -> "_Peer":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.certfile))
        context.set_alpn_protocols(["h2"])
        if self.require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(self.cafile))
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(
                loop.create_server(
                    lambda: _H2(self), "127.0.0.1", self.port, ssl=context, reuse_address=True
                )
            )
            ready.set()
            loop.run_forever()
            server.close()
            for transport in list(self._transports):
                transport.abort()  # the gateway goes down: connections break
            loop.run_until_complete(server.wait_closed())
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="fake-gateway")
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = self._loop = None

    def close(self) -> None:
        self.stop()
        self._files.cleanup()

    async def handle(
        self, path: str, headers: dict[str, str], body: bytes, scope: dict[str, Any]
    ) -> Answer:
        raise NotImplementedError


class _H2(asyncio.Protocol):
    """One HTTP/2 server connection (the ``h2`` state machine over TLS)."""

    def __init__(self, peer: _Peer) -> None:
        self.peer = peer
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        self.transport: Any = None
        self.client: tuple[str, int] = ("", 0)
        self.subject = ""
        self.tasks: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.peer._transports.add(transport)
        self.client = transport.get_extra_info("peername")[:2]
        cert = transport.get_extra_info("peercert") or {}
        self.subject = ",".join(f"{k}={v}" for rdn in cert.get("subject", ()) for k, v in rdn)
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer._transports.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = (dict(event.headers), bytearray())  # type: ignore[arg-type]
            elif isinstance(event, h2.events.DataReceived):
                self.streams[event.stream_id][1].extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                task = asyncio.ensure_future(self._respond(event.stream_id))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        self.transport.write(self.conn.data_to_send())

    async def _respond(self, stream_id: int) -> None:
        headers, body = self.streams.pop(stream_id)
        scope = {"http_version": "2", "client": self.client, "subject": self.subject}
        if self.peer.delay:
            await asyncio.sleep(self.peer.delay)
        status, reply, extra = await self.peer.handle(headers[":path"], headers, bytes(body), scope)
        payload = b"" if reply is None else orjson.dumps(reply)
        out = [(":status", str(status)), ("content-type", "application/json")]
        out += [("content-length", str(len(payload))), *extra.items()]
        try:
            self.conn.send_headers(stream_id, out)
            self.conn.send_data(stream_id, payload, end_stream=True)
        except h2.exceptions.ProtocolError:
            return
        if not self.transport.is_closing():
            self.transport.write(self.conn.data_to_send())


class FakeApns(_Peer):
    def __init__(self, ca: trustme.CA) -> None:
        super().__init__(ca, require_client_cert=True)

    async def handle(
        self, path: str, headers: dict[str, str], body: bytes, scope: dict[str, Any]
    ) -> Answer:
        hit = Hit(
            path,
            headers,
            orjson.loads(body or b"null"),
            scope["http_version"],
            scope["client"],
            scope["subject"],
        )
        self.record(hit)
        token = path.rsplit("/", 1)[-1]
        if "/3/device/" not in path or headers.get(":method") != "POST":
            return 404, {"reason": "BadPath"}, {}
        scripted = self._scripted(token)
        if scripted is not None:
            return scripted
        if headers.get("apns-topic") != BUNDLE_ID:
            return 400, {"reason": "TopicDisallowed"}, {}
        return 200, None, {"apns-id": str(uuid.uuid4())}


class FakeFcm(_Peer):
    def __init__(self, ca: trustme.CA) -> None:
        super().__init__(ca, require_client_cert=False)
        self.public_keys: dict[str, Any] = {}  # client_email -> RSA public key
        self.server_keys: set[str] = set()  # legacy keys accepted
        self.tokens: dict[str, str] = {}  # access token -> client_email
        self.grants = 0

    def service_account(self, project: str = "parley-test") -> dict[str, str]:
        """A service-account JSON whose token_uri is this fake."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"push-{uuid.uuid4().hex[:8]}@{project}.iam.gserviceaccount.com"
        self.public_keys[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": email,
            "token_uri": f"{self.url}/token",
        }

    async def handle(
        self, path: str, headers: dict[str, str], body: bytes, scope: dict[str, Any]
    ) -> Answer:
        if path == "/token":
            form = dict(parse_qsl(body.decode()))
            self.record(Hit(path, headers, form, scope["http_version"], scope["client"]))
            return self._grant(form)
        data = orjson.loads(body or b"null")
        self.record(Hit(path, headers, data, scope["http_version"], scope["client"]))
        auth = headers.get("authorization", "")
        if path == "/fcm/send":
            if auth.removeprefix("key=") not in self.server_keys:
                return 401, None, {}
            token = data["to"]
            scripted = self._scripted(token)
            if scripted is not None:
                return scripted
            return 200, {"success": 1, "failure": 0, "results": [{"message_id": "0:1"}]}, {}
        if path.startswith("/v1/projects/") and path.endswith("/messages:send"):
            if auth.removeprefix("Bearer ") not in self.tokens:
                return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, {}
            token = data["message"]["token"]
            scripted = self._scripted(token)
            if scripted is not None:
                return scripted
            project = path.split("/")[3]
            return 200, {"name": f"projects/{project}/messages/{uuid.uuid4().hex}"}, {}
        return 404, None, {}

    def _grant(self, form: dict[str, str]) -> Answer:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}, {}
        try:
            email = jwt.decode(form["assertion"], options={"verify_signature": False})["iss"]
            claims = jwt.decode(
                form["assertion"],
                self.public_keys[email],
                algorithms=["RS256"],
                audience=f"{self.url}/token",
            )
        except (KeyError, jwt.PyJWTError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT"}, {}
        if "firebase.messaging" not in claims.get("scope", ""):
            return 400, {"error": "invalid_scope"}, {}
        self.grants += 1
        token = f"ya29.{uuid.uuid4().hex}"
        self.tokens[token] = email
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, {}


def apns_certificate(ca: trustme.CA, bundle: str = BUNDLE_ID) -> tuple[str, str]:
    """An APNs-style client certificate (subject UID = bundle id, CN
    "Apple Push Services: <bundle>") issued by the test CA, and its key."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, bundle),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Apple Push Services: {bundle}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


@contextmanager
def gateways() -> Iterator[tuple[trustme.CA, FakeApns, FakeFcm]]:
    ca = trustme.CA()
    apns, fcm = FakeApns(ca).start(), FakeFcm(ca).start()
    try:
        yield ca, apns, fcm
    finally:
        apns.close()
        fcm.close()
