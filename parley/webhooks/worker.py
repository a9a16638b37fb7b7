"""The delivery worker: sends planned deliveries after commit, durably.

::

    bus (after commit) ──wake──┐        poll every PARLEY_WEBHOOK_POLL s
                               v        (restarts, other processes' events)
    loop: ready lanes ──claim (CAS, lease)──> one task per lane, at most
          PARLEY_WEBHOOK_CONCURRENCY lanes at a time
    lane task, one write tx per delivery:
      ┌> [tx: record the previous outcome (done | retry at next_at | failed),
      │       renew the lease, read the head; not due or none -> release lane;
      │       else begin the attempt (attempts+1, attempt row)]
      └─ signed HTTP request, 5 s timeout, log line   [no transaction open]

Nothing here runs inside an API request: a response never waits for delivery.
A process that dies holding lanes loses them when their lease expires
(PARLEY_WEBHOOK_LEASE); the attempt it had begun is resent as a retry.
"""

import asyncio
import collections
import contextlib
import logging
import secrets
import zlib
from dataclasses import dataclass

import httpx

from parley import timefmt
from parley.config import Settings
from parley.domain.catalogue import POST_EVENTS
from parley.events import Event
from parley.health import Health
from parley.store import Row, Store, StoreUnavailable, Tx
from parley.webhooks import outbox, params, sender, targets
from parley.webhooks.double import take_fault

log = logging.getLogger("parley.webhooks")

_POST_EVENTS = frozenset(POST_EVENTS)
_SECOND = 1_000_000  # microseconds
_PRUNE_EVERY = 300.0  # seconds between looks for finished deliveries past retention
_PRUNE_BATCH = 500
_LANE_TURN = 50  # deliveries a lane task makes before handing its lane back
_AGAIN = object()  # the head was concluded without a request: look at the next one


@dataclass(slots=True)
class _Begun:
    head: Row
    event: Event
    token: str
    url: str
    attempt: int
    injected: sender.Outcome | None = None


@dataclass(slots=True)
class _Sent:
    head: Row
    attempt: int
    outcome: sender.Outcome
    state: str
    next_at: int


class Worker:
    def __init__(self, store: Store, settings: Settings, health: Health | None = None) -> None:
        self.store = store
        self.settings = settings
        self.health = health or Health()
        self.worker_id = f"{secrets.token_hex(6)}"
        self.clients: list[httpx.AsyncClient] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._lanes: dict[str, asyncio.Task[None]] = {}
        # in flight per account and per receiving host (the fairness caps)
        self._owners: dict[str, outbox.Ready] = {}
        # attempts by outcome (done, retry, failed, refused), for /metrics
        self.outcomes: collections.Counter[str] = collections.Counter()

    # ---- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        # Several small pools instead of one large one: httpcore scans its whole
        # pool for every request, which dominated CPU with 32 connections in one
        # pool (bench/webhook_lag.py). A lane always uses the same pool.
        concurrency = max(1, self.settings.webhook_concurrency)
        per_pool = 4
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        allow_private = self.settings.allow_private_webhooks
        self.clients = [
            targets.client(allow_private, limits)
            for _ in range((concurrency + per_pool - 1) // per_pool)
        ]
        self._loop_task = asyncio.create_task(self._run(), name="parley-webhooks")

    async def stop(self) -> None:
        """Let in-flight requests finish briefly, then cancel and hand our lanes back."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        tasks = list(self._lanes.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.settings.webhook_stop_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        try:
            async with self.store.write() as tx:
                await outbox.release_all(tx, self.worker_id)
        except Exception:
            log.exception("could not release webhook lanes")
        for client in self.clients:
            await client.aclose()
        self.clients = []

    async def notify(self, events: list[Event]) -> None:
        """Bus subscriber: committed events that may have deliveries wake the loop."""
        if any(e.webhooks and e.kind in _POST_EVENTS for e in events):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def lanes(self) -> list[str]:
        """The lanes this process is sending now."""
        return list(self._lanes)

    @property
    def alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    # ---- claiming ----------------------------------------------------------

    async def _run(self) -> None:
        pruned_at = 0.0
        while not self._stopping:
            self._wake.clear()
            try:
                await self._claim_round()
                self.health.report("database", True)
            except StoreUnavailable as exc:
                # once per outage in the log, not once per poll
                self.health.report("database", False, exc.message)
            except Exception:
                log.exception("webhook claim round failed")
            if asyncio.get_running_loop().time() - pruned_at > _PRUNE_EVERY:
                pruned_at = asyncio.get_running_loop().time()
                try:
                    await self.prune()
                except StoreUnavailable as exc:
                    self.health.report("database", False, exc.message)
                except Exception:
                    log.exception("webhook pruning failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll)

    async def _claim_round(self) -> None:
        room = self.settings.webhook_concurrency - len(self._lanes)
        if room <= 0:
            return
        now = timefmt.now()
        per_account = max(1, self.settings.webhook_account_concurrency)
        async with self.store.read() as tx:
            candidates = await outbox.ready_lanes(tx, now, room + len(self._lanes), per_account)
        ready = self._fair([r for r in candidates if r.lane not in self._lanes], room)
        if not ready:
            return
        lease = self._lease()
        claimed = []
        async with self.store.write() as tx:
            for found in ready:
                if await outbox.claim(tx, found.lane, self.worker_id, now, lease):
                    claimed.append(found)
        for found in claimed:
            self._owners[found.lane] = found
            self._lanes[found.lane] = asyncio.create_task(
                self._lane(found.lane), name=f"webhook-lane {found.lane}"
            )

    def _fair(self, candidates: list[outbox.Ready], room: int) -> list[outbox.Ready]:
        """Candidates this process may start: at most PARLEY_WEBHOOK_ACCOUNT_CONCURRENCY
        lanes of one account and PARLEY_WEBHOOK_TARGET_CONCURRENCY of one
        receiving host in flight, counting those already sending. One tenant's
        hanging receivers then hold a few lanes, never all of them
        (docs/security.md, "Webhook fairness")."""
        accounts: dict[str, int] = {}
        hosts: dict[str, int] = {}
        for owner in self._owners.values():
            accounts[owner.account_sid] = accounts.get(owner.account_sid, 0) + 1
            hosts[owner.target] = hosts.get(owner.target, 0) + 1
        per_account = max(1, self.settings.webhook_account_concurrency)
        per_target = max(1, self.settings.webhook_target_concurrency)
        chosen: list[outbox.Ready] = []
        for found in candidates:
            if len(chosen) >= room:
                break
            if accounts.get(found.account_sid, 0) >= per_account:
                continue
            if found.target and hosts.get(found.target, 0) >= per_target:
                continue
            accounts[found.account_sid] = accounts.get(found.account_sid, 0) + 1
            hosts[found.target] = hosts.get(found.target, 0) + 1
            chosen.append(found)
        return chosen

    async def prune(self) -> int:
        """Forget finished deliveries older than PARLEY_WEBHOOK_RETENTION, in
        small transactions (SQLite has one writer; requests must not wait)."""
        before = timefmt.now() - int(self.settings.webhook_retention * _SECOND)
        total = 0
        while True:
            async with self.store.write() as tx:
                gone = await outbox.prune(tx, before, _PRUNE_BATCH)
            total += gone
            if gone < _PRUNE_BATCH or self._stopping:
                return total
            await asyncio.sleep(0)

    # ---- one lane ----------------------------------------------------------

    async def _lane(self, lane: str) -> None:
        """Deliver a lane's deliveries in order until it is empty or waiting.

        One write transaction per delivery: the outcome of the previous
        request is recorded in the same transaction that begins the next one.
        """
        done: _Sent | None = None
        turns = 0
        try:
            while True:
                async with self.store.write() as tx:
                    if done is not None:
                        await self._record(tx, done)
                        done = None
                    begun = await self._begin(tx, lane, turns)
                if begun is None:
                    break
                turns += 1
                if begun is _AGAIN:
                    continue
                assert isinstance(begun, _Begun)
                done = await self._send(lane, begun)
        except StoreUnavailable as exc:
            self.health.report("database", False, exc.message)
        except Exception:
            log.exception("webhook lane %s failed", lane)
        finally:
            if done is not None:  # stopping, or the loop failed after a send
                try:
                    async with self.store.write() as tx:
                        await self._record(tx, done)
                        await outbox.release(tx, lane, self.worker_id, 0)
                except StoreUnavailable as exc:
                    # the lease lapses and the attempt is resent as a retry
                    self.health.report("database", False, exc.message)
                except Exception:
                    log.exception("webhook lane %s: outcome not recorded", lane)
            self._lanes.pop(lane, None)
            self._owners.pop(lane, None)
            self._wake.set()

    async def _begin(self, tx: Tx, lane: str, turns: int) -> "_Begun | object | None":
        """Start the next attempt in ``lane``: ``None`` when the lane is handed
        back (empty, waiting for a retry, its turn used up, stopping, or taken
        over), ``_AGAIN`` when the head was concluded without a request."""
        now = timefmt.now()
        if self._stopping:
            await outbox.release(tx, lane, self.worker_id, 0)
            return None
        if turns >= _LANE_TURN:
            # fairness: a busy channel goes to the back of the queue (lanes are
            # claimed oldest next_at first), so at most CONCURRENCY busy
            # channels cannot starve the others
            await outbox.release(tx, lane, self.worker_id, now)
            return None
        lease = self._lease()
        if not await outbox.renew(tx, lane, self.worker_id, now + lease):
            return None  # our lease lapsed and another process took the lane
        found = await outbox.head_with_event(tx, lane)
        if found is None:
            await outbox.release(tx, lane, self.worker_id, 0, empty=True)
            return None
        if found[0]["next_at"] > now:
            await outbox.release(tx, lane, self.worker_id, int(found[0]["next_at"]))
            return None
        head, event, token = found
        url = self._url(head)
        problem = (
            ("event no longer stored", outbox.FAILED)
            if event is None
            else ("account no longer exists", outbox.FAILED)
            if token is None
            else ("no Studio stand-in configured (PARLEY_STUDIO_URL)", outbox.SKIPPED)
            if not url
            else None
        )
        if problem is not None:
            reason, state = problem
            await outbox.conclude(tx, head, status=None, error=reason, state=state)
            log.info("webhook delivery=%s kind=%s %s: %s", head["seq"], head["kind"], state, reason)
            return _AGAIN
        assert event is not None and token is not None
        attempt = await outbox.begin_attempt(tx, head, url, self.worker_id)
        # the control plane's fault injection (double.py) stands in for the receiver
        injected = await take_fault(tx, head["account_sid"], url, head["kind"])
        return _Begun(head, event, token, url, attempt, injected)

    async def _send(self, lane: str, begun: "_Begun") -> "_Sent":
        head = begun.head
        retry = int(head["attempts"])
        outcome = begun.injected or await sender.send(
            self._client(lane),
            url=begun.url,
            method=head["method"],
            params=self._params(begun.event, head, retry),
            auth_token=begun.token,
            timeout=self.settings.webhook_timeout,
            idempotency_token=head["token"],
        )
        attempts_made = retry + 1
        next_at = 0
        if outcome.ok:
            state = outbox.DONE
        elif outcome.retryable and attempts_made <= head["max_retries"]:
            state = outbox.PENDING
            delay = sender.backoff(attempts_made, self.settings.webhook_backoff)
            next_at = timefmt.now() + int(delay * _SECOND)
        else:
            state = outbox.FAILED
        refused = outcome.error is not None and outcome.error.startswith("refused")
        self.outcomes["refused" if refused else "retry" if state == outbox.PENDING else state] += 1
        log.info(
            "webhook delivery=%s event=%s kind=%s url=%s retry=%d status=%s"
            " latency_ms=%.1f -> %s%s",
            head["seq"],
            head["event_seq"],
            head["kind"],
            begun.url,
            retry,
            outcome.status if outcome.status is not None else "-",
            outcome.latency_ms,
            state,
            f" ({outcome.error})" if outcome.error else "",
        )
        return _Sent(head, begun.attempt, outcome, state, next_at)

    @staticmethod
    async def _record(tx: Tx, sent: "_Sent") -> None:
        await outbox.finish_attempt(
            tx,
            sent.head,
            sent.attempt,
            status=sent.outcome.status,
            error=sent.outcome.error,
            latency_ms=sent.outcome.latency_ms,
            state=sent.state,
            next_at=sent.next_at,
        )

    def _lease(self) -> int:
        """Microseconds a claim lasts: at least one request timeout plus a second,
        so a slow receiver alone never lets another process take the lane over
        while the request is still in flight."""
        seconds = max(self.settings.webhook_lease, self.settings.webhook_timeout + 1.0)
        return int(seconds * _SECOND)

    def _url(self, delivery: Row) -> str:
        if delivery["webhook_type"] == "studio":
            return self.settings.studio_url or ""
        return str(delivery["url"])

    @staticmethod
    def _params(event: Event, delivery: Row, retry: int) -> dict[str, str]:
        out = params.for_event(event, retry)
        if delivery["webhook_sid"]:
            # docs/behaviour.md §W6 / docs/decisions.md §41: channel webhooks add these
            out["WebhookSid"] = delivery["webhook_sid"]
            out["WebhookType"] = delivery["webhook_type"]
        return out

    def _client(self, lane: str) -> httpx.AsyncClient:
        assert self.clients, "worker not started"
        return self.clients[zlib.crc32(lane.encode()) % len(self.clients)]
