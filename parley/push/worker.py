"""The push sender: sends planned pushes after commit, durably, many at a time.

::

    bus (after commit) ──wake──┐        poll every PARLEY_PUSH_POLL s
                               v        (restarts, other processes' pushes, retries)
    loop: [tx: record finished outcomes (sent | retry at next_at | failed),
               delete dead devices' bindings]
          [tx: claim due pushes (CAS per row, lease)] -> one task each, at most
          PARLEY_PUSH_CONCURRENCY in flight, over one connection per credential
    task: gateway request (no transaction open), log line, outcome queued

A process that dies holding claims loses them when their lease expires
(PARLEY_PUSH_LEASE); those pushes are sent again by whichever process claims
them next, counted as one more attempt. Nothing here runs inside an API request.
"""

import asyncio
import collections
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from parley import timefmt
from parley.config import Settings
from parley.domain import bindings, credentials
from parley.events import Event, Origin
from parley.health import Health
from parley.push import gateways, outbox, plan
from parley.store import Row, Store, StoreUnavailable, Tx
from parley.vault import Vault
from parley.webhooks.sender import backoff

log = logging.getLogger("parley.push")

_SECOND = 1_000_000  # microseconds
_PRUNE_EVERY = 300.0
_BATCH = 64  # outcomes worth a transaction of their own at once
_COALESCE = 0.01  # seconds the loop waits for more outcomes while pushes finish


@dataclass(slots=True)
class _Done:
    push: Row
    result: gateways.Result | None  # None: not sent (skipped, or record-only)
    state: str
    next_at: int
    error: str | None


class Worker:
    def __init__(
        self, store: Store, settings: Settings, vault: Vault, health: Health | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.vault = vault
        self.health = health or Health()
        self.worker_id = f"push-{secrets.token_hex(6)}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._done: list[_Done] = []
        # credential sid -> (its version, its sender); and when each was last used
        self._senders: dict[str, tuple[Any, gateways.Sender]] = {}
        self._used: dict[str, float] = {}
        self._turn = ""  # the account the last claim served last (fairness)
        # outcomes by state (a pending one is a retry), for /metrics
        self.outcomes: collections.Counter[str] = collections.Counter()
        self._fcm: httpx.AsyncClient | None = None

    # ---- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="parley-push")

    async def stop(self) -> None:
        """Let in-flight pushes finish briefly, record them, hand the rest back."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._inflight:
            _, late = await asyncio.wait(self._inflight, timeout=self.settings.webhook_stop_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        try:
            await self._flush()
            async with self.store.write() as tx:
                await outbox.release_all(tx, self.worker_id)
        except Exception:
            log.exception("could not record or release pushes")
        for _, sender in self._senders.values():
            await sender.aclose()
        self._senders.clear()
        if self._fcm is not None:
            await self._fcm.aclose()
            self._fcm = None

    async def notify(self, events: list[Event]) -> None:
        """Bus subscriber: events that planned pushes wake the loop (not every
        new message: a claim round per message cost two to three statements
        more per created message when no push was planned; README, "What
        profiling found and fixed")."""
        if any(plan.PLANNED in e.planned for e in events):
            self._wake.set()

    @property
    def alive(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    # ---- the loop ----------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pruned_at = 0.0
        while not self._stopping:
            self._wake.clear()
            if self._inflight and len(self._done) < _BATCH:
                # pushes are finishing: record them together, not one by one
                await asyncio.sleep(_COALESCE)
            try:
                await self._flush()
                await self._claim_round()
                self.health.report("database", True)
            except StoreUnavailable as exc:
                self.health.report("database", False, exc.message)
            except Exception:
                log.exception("push round failed")
            if loop.time() - pruned_at > _PRUNE_EVERY:
                pruned_at = loop.time()
                try:
                    await self._prune()
                    await self._close_idle(loop.time() - _PRUNE_EVERY)
                except StoreUnavailable as exc:
                    self.health.report("database", False, exc.message)
                except Exception:
                    log.exception("push pruning failed")
            # a finished push wakes the loop: its outcome is recorded and, if
            # the last claim was full, more are claimed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.push_poll)

    async def _claim_round(self) -> None:
        room = self.settings.push_concurrency - len(self._inflight)
        if room <= 0 or (self._inflight and room < self.settings.push_concurrency // 2):
            # refill in batches: a claim per finished push would be a write
            # transaction per push
            return
        now = timefmt.now()
        lease = int(max(self.settings.push_lease, self.settings.push_timeout + 1.0) * _SECOND)
        async with self.store.write() as tx:
            claimed, self._turn = await outbox.claim(
                tx, self.worker_id, now, lease, room, self._turn
            )
        if not claimed:
            return
        async with self.store.read() as tx:
            senders = await self._senders_for(tx, claimed)
            alive = await bindings.existing(tx, [p["binding_sid"] for p in claimed])
        for push in claimed:
            sender = senders.get(push["credential_sid"] or "")
            if push["binding_sid"] not in alive:
                self._conclude(push, None, outbox.SKIPPED, "binding deleted before sending")
            elif sender is None or isinstance(sender, str):
                self._conclude(push, None, outbox.FAILED, sender or "no credential")
            else:
                task = asyncio.create_task(self._send(push, sender), name="push")
                self._inflight.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: "asyncio.Task[None]") -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def _close_idle(self, before: float) -> None:
        """Close the connections of credentials unused since ``before`` (a
        shared service has many tenants; each APNs credential holds one)."""
        for sid in [s for s, at in self._used.items() if at < before]:
            cached = self._senders.pop(sid, None)
            self._used.pop(sid, None)
            if cached is not None:
                await cached[1].aclose()

    async def _senders_for(self, tx: Tx, pushes: list[Row]) -> dict[str, Any]:
        """Each credential's sender (cached until the credential changes), or
        why there is none (a string: the push fails)."""
        out: dict[str, Any] = {}
        for sid in {p["credential_sid"] or "" for p in pushes}:
            self._used[sid] = asyncio.get_running_loop().time()
            if not sid:
                out[sid] = "the binding names no credential"
                continue
            row = await credentials.by_sid(tx, sid)
            if row is None:
                out[sid] = f"credential {sid} no longer exists"
                continue
            cached = self._senders.get(sid)
            if cached is not None and cached[0] == (row["date_updated"], row["secrets"]):
                out[sid] = cached[1]
                continue
            if cached is not None:
                await cached[1].aclose()
                del self._senders[sid]
            try:
                sender = self._sender(row, await credentials.secrets(tx, self.vault, sid))
            except (LookupError, gateways.Unusable, ValueError) as exc:
                out[sid] = f"credential {sid} not usable: {exc}"
                continue
            self._senders[sid] = ((row["date_updated"], row["secrets"]), sender)
            out[sid] = sender
        return out

    def _sender(
        self, credential: credentials.Credential, opened: dict[str, str]
    ) -> gateways.Sender:
        settings = self.settings
        if credential["type"] == "apn":
            sandbox = credential["sandbox"] == "true"
            base = settings.apns_sandbox_url if sandbox else settings.apns_url
            return gateways.Apns(opened, sandbox, base, settings.push_timeout)
        if self._fcm is None:
            # made at first use: one HTTP/2 client (a few connections) for
            # every FCM credential, trusting what SSL_CERT_FILE names then
            self._fcm = httpx.AsyncClient(
                http2=True,
                verify=gateways.tls_context(),
                timeout=settings.push_timeout,
                limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
            )
        if credential["type"] == "fcm":
            return gateways.fcm(self._fcm, opened["secret"], settings.fcm_url)
        return gateways.FcmLegacy(self._fcm, opened["api_key"], settings.fcm_url)

    # ---- one push ----------------------------------------------------------

    async def _send(self, push: Row, sender: gateways.Sender) -> None:
        content = orjson.loads(push["payload"])
        if self.settings.push_record_only:
            self._conclude(push, None, outbox.RECORDED, None)
            return
        try:
            result = await sender.send(push["address"], content)
        except Exception as exc:  # a gateway bug must not lose the push
            log.exception("push=%s send failed", push["seq"])
            result = gateways.Result(None, f"send failed: {type(exc).__name__}", retryable=True)
        attempt = int(push["attempts"]) + 1
        next_at = 0
        if result.ok:
            state = outbox.SENT
        elif result.dead:
            state = outbox.FAILED
        elif result.retryable and attempt <= self.settings.push_retries:
            state = outbox.PENDING
            delay = max(backoff(attempt, self.settings.push_backoff), result.retry_after or 0.0)
            next_at = timefmt.now() + int(delay * _SECOND)
        else:
            state = outbox.FAILED
        self._conclude(push, result, state, result.error, next_at)

    def _conclude(
        self,
        push: Row,
        result: gateways.Result | None,
        state: str,
        error: str | None,
        next_at: int = 0,
    ) -> None:
        if result is not None and result.dead:
            error = f"{error}: device unregistered, binding deleted"
        status = result.status if result is not None else None
        log.info(
            "push=%s event=%s %s to %s binding=%s %s retry=%d status=%s latency_ms=%.1f -> %s%s%s",
            push["seq"],
            push["event_seq"],
            push["kind"],
            push["identity"],
            push["binding_sid"],
            push["binding_type"],
            int(push["attempts"]),
            status if status is not None else "-",
            result.latency_ms if result is not None else 0.0,
            state,
            f" ({error})" if error else "",
            f" text={orjson.loads(push['payload'])['body']!r}" if push["log_enabled"] else "",
        )
        self.outcomes["retry" if state == outbox.PENDING else state] += 1
        self._done.append(_Done(push, result, state, next_at, error))
        self._wake.set()

    async def _flush(self) -> None:
        """Record every finished push in one transaction; dead devices'
        bindings go with it (``is_notifiable`` follows)."""
        if not self._done:
            return
        done, self._done = self._done, []
        try:
            async with self.store.write() as tx:
                await outbox.finish(
                    tx,
                    self.worker_id,
                    [
                        {
                            "seq": d.push["seq"],
                            "state": d.state,
                            "next_at": d.next_at,
                            "status": d.result.status if d.result is not None else None,
                            "error": d.error,
                        }
                        for d in done
                    ],
                )
                for d in done:
                    if d.result is not None and d.result.dead:
                        await self._forget_device(tx, d.push)
        except BaseException:
            self._done[:0] = done  # recorded on the next round (or the lease lapses)
            raise

    @staticmethod
    async def _forget_device(tx: Tx, push: Row) -> None:
        row = await bindings.by_sid(tx, push["binding_sid"])
        # a binding re-registered with another device token since is alive
        if row is not None and (row["address"] or row["endpoint"]) == push["address"]:
            await bindings.delete(tx, row, Origin("system"))

    async def _prune(self) -> None:
        before = timefmt.now() - int(self.settings.webhook_retention * _SECOND)
        while True:
            async with self.store.write() as tx:
                gone = await outbox.prune(tx, before, 500)
            if gone < 500 or self._stopping:
                return


__all__ = ["Worker", "plan"]
