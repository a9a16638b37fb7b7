"""Prometheus metrics at ``GET /metrics``, without a client library.

Three kinds, in the text exposition format (version 0.0.4) that Prometheus
scrapes::

    Counter     inc(*labels)                   parley_http_requests_total
    Histogram   observe(value, *labels)        parley_http_request_duration_seconds
    collectors  async () -> [Sample]           values read at scrape time (queue
                                               depth from the database, sockets)

The hot path pays a dict lookup and an addition: label values are a tuple and
each series is a plain list, no locks (one event loop per process). Other
subsystems add their own metrics to the app's registry: ``registry.counter``,
``registry.histogram``, or ``registry.collector`` for values computed when
scraped (docs/security.md, "Health and metrics").
"""

import bisect
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from parley import timefmt
from parley.health import Health
from parley.push import outbox as push_outbox
from parley.store import Store
from parley.webhooks import outbox as webhook_outbox

if TYPE_CHECKING:
    from parley.push.worker import Worker as PushWorker
    from parley.realtime.gateway import Gateway
    from parley.webhooks.worker import Worker as WebhookWorker

_bisect = bisect.bisect_left
# the fan-out of one commit to up to thousands of sockets (bench/fanout.py)
FANOUT_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of a collected metric."""

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Family:
    name: str
    help: str
    kind: str
    labels: tuple[str, ...]


@dataclass(slots=True)
class Counter(_Family):
    series: dict[tuple[str, ...], float] = field(default_factory=dict)

    def inc(self, *labels: str, by: float = 1.0) -> None:
        self.series[labels] = self.series.get(labels, 0.0) + by

    def lines(self) -> Iterable[str]:
        for labels, value in sorted(self.series.items()):
            yield f"{self.name}{_labels(self.labels, labels)} {_number(value)}"


@dataclass(slots=True)
class Histogram(_Family):
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    # per label tuple: [count per bucket..., count above the last, sum]
    series: dict[tuple[Any, ...], list[float]] = field(default_factory=dict)

    def observe(self, value: float, *labels: Any) -> None:
        self.observe_key(labels, value)

    def observe_key(self, labels: tuple[Any, ...], value: float) -> None:
        """``observe`` with the label values already in a tuple (the hot path)."""
        found = self.series.get(labels)
        if found is None:
            found = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        found[_bisect(self.buckets, value)] += 1
        found[-1] += value

    def counts(self) -> Iterable[tuple[tuple[Any, ...], float]]:
        """(labels, observations) of every series."""
        for labels, counts in self.series.items():
            yield labels, sum(counts[:-1])

    def lines(self) -> Iterable[str]:
        for labels, counts in sorted(self.series.items()):
            total = 0.0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=False):
                total += count
                le = "+Inf" if bound == math.inf else _number(bound)
                names = (*self.labels, "le")
                yield f"{self.name}_bucket{_labels(names, (*labels, le))} {_number(total)}"
            yield f"{self.name}_sum{_labels(self.labels, labels)} {_number(counts[-1])}"
            yield f"{self.name}_count{_labels(self.labels, labels)} {_number(total)}"


Collect = Callable[[], Awaitable[Iterable[Sample]]]


@dataclass(slots=True)
class _Collected(_Family):
    collect: Collect = field(default=None)  # type: ignore[assignment]


class Registry:
    def __init__(self) -> None:
        self._families: list[Counter | Histogram | _Collected] = []

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Counter:
        family = Counter(name, help, "counter", tuple(labels))
        self._add(family)
        return family

    def histogram(
        self,
        name: str,
        help: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        family = Histogram(name, help, "histogram", tuple(labels), tuple(buckets))
        self._add(family)
        return family

    def collector(self, name: str, help: str, kind: str, collect: Collect) -> None:
        """A metric (``gauge`` or ``counter``) whose samples ``collect`` reads
        at scrape time; its samples may carry labels."""
        self._add(_Collected(name, help, kind, (), collect))

    def _add(self, family: "Counter | Histogram | _Collected") -> None:
        if any(f.name == family.name for f in self._families):
            raise ValueError(f"metric {family.name} is registered twice")
        self._families.append(family)

    async def render(self) -> bytes:
        out: list[str] = []
        for family in self._families:
            out.append(f"# HELP {family.name} {family.help}")
            out.append(f"# TYPE {family.name} {family.kind}")
            if isinstance(family, _Collected):
                try:
                    samples = list(await family.collect())
                except Exception as exc:  # one failing collector spoils no scrape
                    out.append(f"# {family.name} not collected: {type(exc).__name__}")
                    continue
                for sample in samples:
                    names = tuple(k for k, _ in sample.labels)
                    values = tuple(v for _, v in sample.labels)
                    out.append(f"{sample.name}{_labels(names, values)} {_number(sample.value)}")
            else:
                out.extend(family.lines())
        return ("\n".join(out) + "\n").encode()


def _labels(names: Sequence[str], values: Sequence[Any]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


# ---------------------------------------------------------------- Parley's own

# seconds: a live event crosses Redis in milliseconds; beyond a second it lags
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)


class ParleyMetrics:
    """The metrics every Parley process serves; ``registry`` takes more."""

    def __init__(self) -> None:
        self.registry = registry = Registry()
        labels = ("route", "method", "status")
        self.latency = registry.histogram(
            "parley_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route (the spec's path"
            " template), method and status",
            labels,
        )
        latency = self.latency

        async def requests() -> Iterable[Sample]:
            # the histogram's counts: one observation per request, nothing more
            # to do per request
            return [
                Sample(
                    "parley_http_requests_total",
                    n,
                    tuple((name, str(value)) for name, value in zip(labels, key, strict=True)),
                )
                for key, n in sorted(latency.counts())
            ]

        registry.collector(
            "parley_http_requests_total",
            "HTTP requests answered, by route, method and status",
            "counter",
            requests,
        )
        self.sync_fanout = registry.histogram(
            "parley_sync_fanout_seconds",
            "Time the Sync fan-out takes to hand one commit's events to every subscribed"
            " session of this process (the server's part of a real-time delivery)",
            buckets=FANOUT_BUCKETS,
        )
        self.bus_lag = registry.histogram(
            "parley_bus_lag_seconds",
            "Time from an event's transaction to its arrival from Redis (other processes' too)",
            buckets=LAG_BUCKETS,
        )

    def http(self, route: str, method: str, status: int, seconds: float) -> None:
        self.latency.observe_key((route, method, status), seconds)


class MetricsApi:
    """``GET /metrics``; with PARLEY_METRICS_TOKEN set, only for ``Authorization:
    Bearer <token>`` (the figures are every tenant's together)."""

    def __init__(self, metrics: ParleyMetrics, token: str | None) -> None:
        self.metrics = metrics
        self.token = token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        import hmac

        status, body = 200, b""
        if scope["path"] != PATH:
            status, body = 404, b"unknown path\n"
        elif self.token:
            given = dict(scope["headers"]).get(b"authorization", b"")
            expected = b"Bearer " + self.token.encode()
            if not hmac.compare_digest(given, expected):
                status, body = 401, b"a bearer token is required\n"
        if status == 200:
            body = await self.metrics.registry.render()
        headers = [(b"content-type", CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


PATH = "/metrics"


def install(
    metrics: ParleyMetrics,
    store: Store,
    health: Health,
    webhooks: "WebhookWorker | None",
    pushes: "PushWorker | None",
    gateway: "Gateway",
) -> None:
    """The collectors of Parley's own subsystems, read at scrape time."""
    registry = metrics.registry

    async def pending() -> tuple[int, int | None]:
        async with store.read() as tx:
            return await webhook_outbox.pending(tx)

    async def queue_depth() -> Iterable[Sample]:
        depth, _ = await pending()
        return [Sample("parley_webhook_queue_depth", depth)]

    async def queue_age() -> Iterable[Sample]:
        _, oldest = await pending()
        age = 0.0 if oldest is None else max(0.0, (timefmt.now() - int(oldest)) / 1e6)
        return [Sample("parley_webhook_queue_oldest_age_seconds", age)]

    async def lanes() -> Iterable[Sample]:
        return [Sample("parley_webhook_lanes_in_flight", len(webhooks.lanes) if webhooks else 0)]

    async def attempts() -> Iterable[Sample]:
        outcomes = webhooks.outcomes if webhooks else {}
        return [
            Sample("parley_webhook_attempts_total", n, (("outcome", outcome),))
            for outcome, n in sorted(outcomes.items())
        ]

    async def push_depth() -> Iterable[Sample]:
        async with store.read() as tx:
            depth = await push_outbox.pending(tx)
        return [Sample("parley_push_queue_depth", depth)]

    async def push_attempts() -> Iterable[Sample]:
        outcomes = pushes.outcomes if pushes else {}
        return [
            Sample("parley_push_attempts_total", n, (("outcome", outcome),))
            for outcome, n in sorted(outcomes.items())
        ]

    async def sockets() -> Iterable[Sample]:
        sessions = list(gateway.sessions)
        ready = sum(1 for s in sessions if s.grant is not None)
        return [
            Sample("parley_ws_sessions", ready, (("state", "initialised"),)),
            Sample("parley_ws_sessions", len(sessions) - ready, (("state", "awaiting_init"),)),
        ]

    async def dropped() -> Iterable[Sample]:
        counts = gateway.dropped
        return [
            Sample("parley_ws_sessions_dropped_total", n, (("reason", reason),))
            for reason, n in sorted(counts.items())
        ]

    async def up() -> Iterable[Sample]:
        return [
            Sample("parley_up", 1.0 if check.ok else 0.0, (("component", name),))
            for name, check in sorted(health.checks.items())
        ]

    for name, kind, help, collect in (
        (
            "parley_webhook_queue_depth",
            "gauge",
            "Webhook deliveries waiting to be sent (the outbox: every process's)",
            queue_depth,
        ),
        (
            "parley_webhook_queue_oldest_age_seconds",
            "gauge",
            "Age of the oldest webhook delivery waiting to be sent",
            queue_age,
        ),
        ("parley_webhook_lanes_in_flight", "gauge", "Webhook lanes this process sends now", lanes),
        (
            "parley_webhook_attempts_total",
            "counter",
            "Webhook attempts this process made, by outcome (done, retry, failed, refused)",
            attempts,
        ),
        (
            "parley_push_queue_depth",
            "gauge",
            "Pushes waiting to be sent, retries included (the outbox: every process's)",
            push_depth,
        ),
        (
            "parley_push_attempts_total",
            "counter",
            "Push outcomes in this process (sent, retry, failed, skipped, recorded)",
            push_attempts,
        ),
        ("parley_ws_sessions", "gauge", "Real-time sockets open in this process", sockets),
        (
            "parley_ws_sessions_dropped_total",
            "counter",
            "Real-time sessions cut for falling behind, by reason",
            dropped,
        ),
        ("parley_up", "gauge", "1 when a dependency or worker is available (/readyz)", up),
    ):
        registry.collector(name, help, kind, collect)
