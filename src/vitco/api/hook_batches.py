"""Group commit of inbound webhooks on SQLite: one thread accepts the deliveries that arrive
together, and the new projects among them in ONE transaction.

SQLite takes one writer at a time. Each accept in a thread of its own (anyio's pool, at most
4 at once) meant 4 connections taking turns at the write lock, each commit invalidating the
others' page caches, and the GIL handed between them: through the app in process, 16
deliveries at once cost 5.6 ms of CPU an accept, 3.6 ms with one thread, against 2.3 ms for
the same accept called directly. Here one thread (``HookBatches``, per app) takes whatever
deliveries are waiting, up to ``BATCH_MOST``; for each it reads the source's secret (once a
batch per tenant and source), verifies and parses it (``hooks.read``) and checks a new
project's brief, workflow and model (``hooks.at_once``), all before any write; then it writes
every new project's rows in one transaction, one commit, and answers each delivery only
after that commit: a 202 still means committed, and a crash before the commit leaves none of
them (each sender redelivers, and its delivery id is new to the store). The rows go in with
one INSERT of many rows per table (``hooks.store_at_once``: projects, briefs, runs, the
deliveries' rows, jobs; the sandbox slots picked once, ``Store.open_projects``): a batch sends
as many statements for 8 deliveries as for 2. Measured through the app in process, 16
deliveries at once, alternated with the code before (3 x 200 each, a loaded machine): 5.6 and
5.0 ms of CPU an accept before, 2.0 and 2.3 ms after; one ``accept_batch`` of 16, called
directly: 2.4-2.8 ms an accept with a statement per row, 0.7-1.0 ms with a statement per
table.

When the batch's transaction fails with an ``IntegrityError`` or any other error of one
delivery's making (a delivery id claimed before, a sandbox slot another process took, a
delivery id twice in one batch), nothing of it is stored and each of its deliveries goes
again on its own through ``hooks.accept``, in its own transaction: a replay is answered as a
replay, the others are accepted. An ``OperationalError`` (the database locked beyond its busy
timeout, a full disk) is the database's, not a delivery's: every delivery of the batch gets
it (a 500, nothing stored) rather than waiting its turn for the same error. Deliveries that
are not a new project's brief (GitHub's, Stripe's, a bug report on a linked project) go
through ``hooks.accept`` in this thread after the batch, as before.

PostgreSQL takes concurrent writers: there each accept keeps a thread of anyio's pool
(``routes.webhooks``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from vitco.api import hooks
from vitco.api.deps import ApiContext
from vitco.api.webhook_schemas import HookAnswer, Source

BATCH_MOST = 32
"""Deliveries a batch takes at most: its transaction holds SQLite's write lock while its rows
go in (~0.5 ms each), which the workers' commits wait for."""
IDLE_S = 5.0
"""The thread ends after this long without a delivery (the next one starts it again): an app
that is dropped without its lifespan's end (a test's) leaves no thread behind for long."""

Outcome = tuple[int, HookAnswer]


@dataclass(frozen=True)
class Received:
    """A delivery as received, not verified yet, and where its outcome goes."""

    tenant_id: str
    source: Source
    body: bytes
    headers: Mapping[str, str]
    tolerance_s: float
    outcome: Future[Outcome] = field(default_factory=Future)


class HookBatches:
    """The thread that accepts an app's inbound webhooks in batches (module docstring)."""

    def __init__(self, ctx: ApiContext, *, most: int = BATCH_MOST, idle_s: float = IDLE_S) -> None:
        self.ctx = ctx
        self.most = most
        self.idle_s = idle_s
        self._waiting: queue.SimpleQueue[Received | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(
        self, tenant_id: str, source: Source, body: bytes, headers: Mapping[str, str],
        tolerance_s: float,
    ) -> Future[Outcome]:  # fmt: skip
        """Queue a delivery; its future holds ``(status, answer)`` once it is stored, or the
        error: ``BadSignature``, ``hooks.Invalid`` (nothing stored) or what accepting raised."""
        received = Received(tenant_id, source, body, headers, tolerance_s)
        with self._lock:
            self._waiting.put(received)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="vitco-hook-batches", daemon=True
                )
                self._thread.start()
        return received.outcome

    def close(self) -> None:
        """Accept what is queued, then end the thread (it starts again if more comes)."""
        with self._lock:
            thread = self._thread
            if thread is not None:
                self._waiting.put(None)
        if thread is not None:
            thread.join()

    def _serve(self) -> None:
        stop = False  # closed, or idle: end once nothing is queued
        while True:
            try:
                first = (
                    self._waiting.get_nowait() if stop else self._waiting.get(timeout=self.idle_s)
                )
            except queue.Empty:
                first = None
            stop = stop or first is None
            batch = [] if first is None else [first]
            while len(batch) < self.most:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    batch.append(more)
            if batch:
                accept_batch(self.ctx, batch)
            if stop:
                with self._lock:
                    if self._waiting.empty():
                        self._thread = None
                        return


def accept_batch(ctx: ApiContext, batch: list[Received]) -> None:
    """Verify, parse and accept ``batch`` (module docstring); every future is done after."""
    try:
        _accept(ctx, [r for r in batch if r.outcome.set_running_or_notify_cancel()])
    except BaseException as exc:  # a bug: no sender waits for ever
        for received in batch:
            if not received.outcome.done():
                received.outcome.set_exception(exc)
        if not isinstance(exc, Exception):
            raise


def _accept(ctx: ApiContext, batch: list[Received]) -> None:
    secrets: dict[tuple[str, Source], str | None] = {}
    ready: list[tuple[Received, hooks.AtOnce]] = []
    rest: list[tuple[Received, hooks.Delivery]] = []
    for received in batch:
        try:
            key = (received.tenant_id, received.source)
            if key not in secrets:  # no such tenant: no secret either
                secrets[key] = ctx.hooks.secret(*key)
            delivery = hooks.read(
                received.source, secrets[key], received.body, received.headers,
                tolerance_s=received.tolerance_s,
            )  # fmt: skip
            prepared = hooks.at_once(ctx, received.tenant_id, delivery)
        except Exception as exc:
            received.outcome.set_exception(exc)
            continue
        if prepared is None:
            rest.append((received, delivery))
        else:
            ready.append((received, prepared))
    if ready:
        try:
            with ctx.store.engine.begin() as conn:
                ready = _fresh(ctx, conn, ready, rest)
                hooks.store_at_once(ctx, conn, [prepared for _, prepared in ready])
        except OperationalError as exc:  # the database's trouble: every delivery's
            for received, _ in ready:
                received.outcome.set_exception(exc)
        except Exception:  # one delivery's (a replay...): each again on its own
            rest = [(received, prepared.delivery) for received, prepared in ready] + rest
        else:
            if any(prepared.first is not None for _, prepared in ready):
                ctx.runs.notify()
            for received, prepared in ready:
                received.outcome.set_result((202, prepared.answer()))
    for received, delivery in rest:
        try:
            received.outcome.set_result(hooks.accept(ctx, received.tenant_id, delivery))
        except Exception as exc:
            received.outcome.set_exception(exc)


def _fresh(
    ctx: ApiContext,
    conn: Connection,
    ready: list[tuple[Received, hooks.AtOnce]],
    rest: list[tuple[Received, hooks.Delivery]],
) -> list[tuple[Received, hooks.AtOnce]]:
    """``ready`` without the deliveries claimed before (read on ``conn``, the batch's, in one
    query per tenant and source) or earlier in the batch, which go to ``rest``, to be
    answered after the batch's commit as what they are (a replay; ``hooks.accept``): one of
    them in the transaction would fail it and send the whole batch one by one."""
    ids: dict[tuple[str, str], list[str]] = {}
    for received, prepared in ready:
        ids.setdefault((received.tenant_id, received.source), []).append(
            prepared.delivery.delivery_id
        )
    seen = {
        (tenant_id, source, known)
        for (tenant_id, source), delivery_ids in ids.items()
        for known in ctx.hooks.known(conn, tenant_id, source, delivery_ids)
    }
    fresh = []
    for received, prepared in ready:
        key = (received.tenant_id, received.source, prepared.delivery.delivery_id)
        if key in seen:
            rest.append((received, prepared.delivery))
        else:
            seen.add(key)
            fresh.append((received, prepared))
    return fresh
