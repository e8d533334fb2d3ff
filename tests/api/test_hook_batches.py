"""Group commit of inbound webhooks on SQLite (``vitco.api.hook_batches``): a batch's new
projects go in with one commit, each delivery is answered only once that commit is done, a
replay or a bad delivery among them is answered on its own and costs the others nothing,
and the database's own failure leaves nothing stored. Through the HTTP server, deliveries
sent at once are all accepted, each once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from tests.api.conftest import MakeServer
from tests.api.server import Server
from vitco.api import hook_batches, hooks
from vitco.api.deps import ApiContext
from vitco.api.hook_batches import HookBatches, Received, accept_batch
from vitco.integrations.webhooks import BadSignature, new_secret
from vitco.integrations.webhooks.signing import standard_headers
from vitco.store.models import Project, Run, RunJob
from vitco.store.webhook_models import HookDelivery


@pytest.fixture
def idle(make_server: MakeServer) -> Server:
    server = make_server()
    server.app.state.vitco.runs.close()  # runs stay queued
    server.key("acme", "admin")  # the tenant
    return server


def _ctx(server: Server) -> ApiContext:
    ctx: ApiContext = server.app.state.vitco
    return ctx


def _signed(secret: str, msg_id: str, brief: str = "# Todo API\n\nTodos.\n") -> Received:
    body = json.dumps({"brief": brief}).encode()
    headers = standard_headers(secret, msg_id, int(time.time()), body)
    lower = {name.lower(): value for name, value in headers.items()}
    return Received("acme", "generic", body, lower, 300.0)


def _count(ctx: ApiContext, model: Any, **where: Any) -> int:
    q = select(func.count()).select_from(model)
    for name, value in where.items():
        q = q.where(getattr(model, name) == value)
    with ctx.store.sessions() as s:
        return int(s.scalar(q) or 0)


def _commits(ctx: ApiContext) -> list[int]:
    """The commits this thread makes from now on (the server's own threads commit too: the
    outbound webhooks' sender)."""
    made: list[int] = []
    here = threading.get_ident()

    def seen(_conn: Any) -> None:
        if threading.get_ident() == here:
            made.append(1)

    event.listen(ctx.store.engine, "commit", seen)
    return made


def test_a_batch_of_new_projects_is_one_commit_answered_after_it(idle: Server) -> None:
    ctx = _ctx(idle)
    secret = new_secret()
    ctx.hooks.set_secret("acme", "generic", secret)
    batch = [_signed(secret, f"msg-{i}") for i in range(8)]
    stored_when_answered: list[int] = []

    def check(outcome: Future[Any]) -> None:  # in the batch's thread, as it answers
        stored_when_answered.append(_count(ctx, HookDelivery, status="accepted"))

    for received in batch:
        received.outcome.add_done_callback(check)
    ctx.store.ensure_tenant("acme")  # read once a process, in a session (and commit) of its own
    commits = _commits(ctx)
    accept_batch(ctx, batch)

    assert [r.outcome.result()[0] for r in batch] == [202] * 8
    assert len(commits) == 1  # one per delivery before
    assert stored_when_answered == [8] * 8  # every answer after the commit of all
    answers = [r.outcome.result()[1] for r in batch]
    assert len({a.project_id for a in answers}) == len({a.run_id for a in answers}) == 8
    assert (_count(ctx, Project), _count(ctx, Run), _count(ctx, RunJob)) == (8, 8, 8)


def test_a_batchs_statements_do_not_grow_with_its_deliveries(idle: Server) -> None:
    """One INSERT of many rows per table (projects, briefs, runs, deliveries, jobs), the
    sandbox slots picked once, the secret and the replays read once: 8 deliveries send as
    many statements as 2."""
    ctx = _ctx(idle)
    secret = new_secret()
    ctx.hooks.set_secret("acme", "generic", secret)
    accept_batch(ctx, [_signed(secret, "msg-warm")])  # the tenant, read once a process
    here = threading.get_ident()
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == here:
            sent.append(statement)

    event.listen(ctx.store.engine, "before_cursor_execute", seen)
    counts = []
    for size in (2, 8):
        sent.clear()
        batch = [_signed(secret, f"msg-{size}-{i}") for i in range(size)]
        accept_batch(ctx, batch)
        assert [r.outcome.result()[0] for r in batch] == [202] * size
        counts.append(len(sent))
    assert counts[0] == counts[1], counts
    assert _count(ctx, RunJob) == 11


def test_replays_and_bad_deliveries_in_a_batch_are_answered_each_on_its_own(
    idle: Server,
) -> None:
    ctx = _ctx(idle)
    secret = new_secret()
    ctx.hooks.set_secret("acme", "generic", secret)
    first = _signed(secret, "msg-old")
    accept_batch(ctx, [first])
    assert first.outcome.result()[0] == 202

    unsigned = _signed(new_secret(), "msg-forged")
    invalid = _signed(secret, "msg-invalid")
    invalid = Received(
        "acme", "generic", b'{"brief": 3}',
        {**invalid.headers, **{
            k.lower(): v
            for k, v in standard_headers(secret, "msg-invalid", int(time.time()),
                                         b'{"brief": 3}').items()
        }},
        300.0,
    )  # fmt: skip
    batch = [
        _signed(secret, "msg-new"),
        _signed(secret, "msg-old"),  # a replay of one accepted before
        _signed(secret, "msg-twice"),
        _signed(secret, "msg-twice"),  # the same delivery twice in one batch
        unsigned,
        invalid,
    ]
    commits = _commits(ctx)
    accept_batch(ctx, batch)

    # the replays were left out of the batch's transaction, read first: it did not fail and
    # go one by one (its commit, and each replay's claim read in a session of its own)
    assert len(commits) == 3
    new, replay, twice, again = (r.outcome.result() for r in batch[:4])
    assert new[0] == 202 and not new[1].duplicate
    assert replay[0] == 200 and replay[1].duplicate
    assert replay[1].run_id == first.outcome.result()[1].run_id
    assert twice[0] == 202 and again[0] == 200 and again[1].duplicate
    with pytest.raises(BadSignature):
        unsigned.outcome.result()
    with pytest.raises(hooks.Invalid):
        invalid.outcome.result()
    assert _count(ctx, HookDelivery) == 3  # msg-old, msg-new, msg-twice
    assert (_count(ctx, Project), _count(ctx, Run), _count(ctx, RunJob)) == (3, 3, 3)


def test_the_databases_own_failure_fails_the_batch_storing_nothing(
    idle: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every delivery of the batch gets the error (a 500: the sender redelivers), none waits
    its turn to meet it again."""
    ctx = _ctx(idle)
    secret = new_secret()
    ctx.hooks.set_secret("acme", "generic", secret)
    tries: list[str] = []

    def locked(ctx: ApiContext, conn: Any, batch: list[hooks.AtOnce]) -> None:
        tries.extend(ready.delivery.delivery_id for ready in batch)
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(hooks, "store_at_once", locked)
    batch = [_signed(secret, f"msg-{i}") for i in range(3)]
    accept_batch(ctx, batch)
    for received in batch:
        with pytest.raises(OperationalError):
            received.outcome.result()
    assert tries == ["msg-0", "msg-1", "msg-2"]  # tried once, together
    assert _count(ctx, HookDelivery) == _count(ctx, Project) == 0


def test_the_thread_ends_when_idle_and_starts_again(idle: Server) -> None:
    ctx = _ctx(idle)
    secret = new_secret()
    ctx.hooks.set_secret("acme", "generic", secret)
    batches = HookBatches(ctx, idle_s=0.05)
    one = _signed(secret, "msg-1")
    outcome = batches.submit(one.tenant_id, one.source, one.body, one.headers, 300.0)
    assert outcome.result(timeout=10)[0] == 202
    deadline = time.monotonic() + 10
    while batches._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batches._thread is None
    two = _signed(secret, "msg-2")
    assert batches.submit("acme", "generic", two.body, two.headers, 300.0).result(10)[0] == 202
    batches.close()
    assert batches._thread is None


def test_deliveries_sent_at_once_over_http_are_each_accepted_once(idle: Server) -> None:
    ctx = _ctx(idle)
    secret = new_secret()
    ctx.hooks.set_secret("acme", "generic", secret)
    sent = [_signed(secret, f"msg-{i % 24}") for i in range(32)]  # 8 sent twice

    async def post_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=idle.url, timeout=30) as client:
            return await asyncio.gather(*(
                client.post("/v1/hooks/generic", params={"tenant": "acme"}, content=r.body,
                            headers=dict(r.headers))
                for r in sent
            ))  # fmt: skip

    answers = asyncio.run(post_all())
    assert sorted(a.status_code for a in answers) == [200] * 8 + [202] * 24, [
        a.text for a in answers if a.status_code not in (200, 202)
    ]
    assert all(a.json()["duplicate"] for a in answers if a.status_code == 200)
    assert _count(ctx, HookDelivery, status="accepted") == _count(ctx, RunJob) == 24
    assert isinstance(idle.app.state.hook_batches, hook_batches.HookBatches)
