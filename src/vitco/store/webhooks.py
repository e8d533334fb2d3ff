"""Queries of webhooks, in and out (tables in ``vitco.store.webhook_models``).

In: a delivery is *claimed* by its id before anything is done for it (``claim``): the first
claim inserts its row with the ids of the project and run it will make, so a replay finds it
(accepted once) and a redelivery after a crash half-way makes the same ids again (nothing twice).
Out: ``dispatch`` turns new events of a tenant into deliveries for each of its subscriptions
(a cursor per subscription, a unique (subscription, event) pair: several servers may dispatch
at once), ``claim_due`` takes deliveries that are due, ``record`` writes each attempt.

Every read on behalf of a key takes the key's tenant and filters on it in the same query.
Secrets go through a ``SecretBox`` (sealed in, opened out, each bound to its row by name) and
nowhere else; a value in a form the box no longer writes (``plain:``) is re-sealed when read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Update, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.access import MAX_PAGE, Page
from vitco.store.exceptions import NotFound
from vitco.store.models import Event, Project, Run, RunJob, new_id, utcnow
from vitco.store.rows import detached, inserted
from vitco.store.secrets import SecretBox, hook_name, webhook_name
from vitco.store.webhook_models import (
    HookDelivery,
    HookSecret,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

ClaimState = Literal["new", "retry", "done", "busy"]


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a delivery id: ``new`` (first time) or ``retry`` (an earlier
    try died or was refused: act again, with the row's ids), ``done`` (a replay: accepted or
    ignored before), ``busy`` (another request is accepting it right now)."""

    state: ClaimState
    delivery: HookDelivery


def _by_id_desc(s: Session, q: Any, model: Any, limit: int, after: int | None) -> Page[Any]:
    if after is not None:
        q = q.where(model.id < after)
    limit = min(limit, MAX_PAGE)
    rows = list(s.scalars(q.order_by(model.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, ("", str(rows[-1].id)) if more and rows else None)


def matches(patterns: list[Any], kind: str) -> bool:
    """Whether a subscription to ``patterns`` wants an event of ``kind``."""
    return "*" in patterns or kind in patterns


_SECRET = select(HookSecret.secret).where(
    HookSecret.tenant_id == bindparam("_tenant"), HookSecret.source == bindparam("_source")
)


@functools.cache
def _finish(names: tuple[str, ...]) -> Update:
    """The UPDATE ... RETURNING of these fields of a delivery (bound as ``_<name>``, the row
    as ``_id``), built once per set of names."""
    return (
        update(HookDelivery)
        .where(HookDelivery.id == bindparam("_id"))
        .values({name: bindparam(f"_{name}") for name in names})
        .returning(*HookDelivery.__table__.c)
    )


@dataclass(frozen=True)
class Accepted:
    """A delivery accepted at once (:meth:`WebhookStore.accepted`) and what it made."""

    tenant_id: str
    source: str
    delivery_id: str
    event: str
    project_id: str
    run_id: str | None
    detail: str | None = None
    ref: str | None = None


_ACCEPTED = insert(HookDelivery)
_KNOWN = select(HookDelivery.delivery_id).where(
    HookDelivery.tenant_id == bindparam("tenant_id"),
    HookDelivery.source == bindparam("source"),
    HookDelivery.delivery_id.in_(bindparam("ids", expanding=True)),
)


class WebhookStore:
    """Webhook secrets, deliveries in and out, subscriptions, on the store's sessions."""

    def __init__(self, sessions: sessionmaker[Session], box: SecretBox) -> None:
        self.sessions = sessions
        self.box = box

    @property
    def _engine(self) -> Engine:
        engine: Engine = self.sessions.kw["bind"]
        return engine

    # inbound: secrets -------------------------------------------------------------------------

    def set_secret(self, tenant_id: str, source: str, secret: str) -> HookSecret:
        """Set (or replace) the secret ``tenant_id`` shares with ``source``."""
        with self.sessions.begin() as s:
            row = s.get(HookSecret, (tenant_id, source))
            if row is None:
                row = HookSecret(tenant_id=tenant_id, source=source, created_at=utcnow())
                s.add(row)
            row.secret = self.box.seal(tenant_id, hook_name(source), secret)
            row.created_at = utcnow()
            return row

    def secret(self, tenant_id: str, source: str) -> str | None:
        # Core, a statement built once: every signed delivery reads its secret
        with self._engine.connect() as conn:
            sealed = conn.execute(_SECRET, {"_tenant": tenant_id, "_source": source}).scalar()
        if sealed is None:
            return None
        value = self.box.open(tenant_id, hook_name(source), sealed)
        if self.box.stale(sealed):
            with self.sessions.begin() as s:
                s.execute(
                    update(HookSecret)
                    .where(HookSecret.tenant_id == tenant_id, HookSecret.source == source,
                           HookSecret.secret == sealed)
                    .values(secret=self.box.seal(tenant_id, hook_name(source), value))
                )  # fmt: skip
        return value

    def delete_secret(self, tenant_id: str, source: str) -> HookSecret:
        with self.sessions.begin() as s:
            row = s.get(HookSecret, (tenant_id, source))
            if row is None:
                raise NotFound("hook secret", source)
            s.delete(row)
            return row

    def sources(self, tenant_id: str) -> list[HookSecret]:
        q = select(HookSecret).where(HookSecret.tenant_id == tenant_id).order_by(HookSecret.source)
        with self.sessions() as s:
            return list(s.scalars(q))

    # inbound: deliveries ----------------------------------------------------------------------

    def claim(
        self,
        tenant_id: str,
        source: str,
        delivery_id: str,
        event: str,
        *,
        ref: str | None = None,
        lease: timedelta = timedelta(seconds=60),
    ) -> Claim:
        """Claim ``delivery_id`` of ``source`` for ``tenant_id`` (see :class:`Claim`)."""
        now = utcnow()
        values = {
            "tenant_id": tenant_id, "source": source, "delivery_id": delivery_id,
            "event": event[:100], "ref": ref, "status": "received", "project_id": new_id("p"),
            "run_id": new_id("r"), "received_at": now, "claimed_at": now,
        }  # fmt: skip
        try:
            with self._engine.begin() as conn:  # Core: an accept's hot path
                return Claim("new", inserted(conn, HookDelivery, values))
        except IntegrityError:
            pass
        key = (HookDelivery.tenant_id == tenant_id, HookDelivery.source == source,
               HookDelivery.delivery_id == delivery_id)  # fmt: skip
        with self.sessions.begin() as s:
            found = s.scalars(select(HookDelivery).where(*key)).one()
            if found.status in ("accepted", "ignored"):
                return Claim("done", found)
            if found.status == "received" and found.claimed_at > now - lease:
                return Claim("busy", found)
            taken = s.execute(  # only one of two redeliveries re-claims it
                update(HookDelivery)
                .where(*key, HookDelivery.claimed_at == found.claimed_at)
                .values(status="received", claimed_at=now)
            )
            if getattr(taken, "rowcount", 0) != 1:
                return Claim("busy", found)
        return Claim("retry", self._delivery(found.id))

    def known(
        self, conn: Connection, tenant_id: str, source: str, delivery_ids: Iterable[str]
    ) -> set[str]:
        """Which of ``delivery_ids`` of ``source`` for ``tenant_id`` were claimed before (one
        query, on ``conn``: a batch of deliveries leaves its replays out of its transaction;
        the statement is built once, as building it cost more than running it)."""
        params = {"tenant_id": tenant_id, "source": source, "ids": sorted(set(delivery_ids))}
        return set(conn.scalars(_KNOWN, params))

    def accepted(self, conn: Connection, deliveries: Sequence[Accepted]) -> None:
        """Record ``deliveries`` as claimed and accepted at once, in ``conn``'s transaction
        (the one that stores what they made), one INSERT of many rows: an
        ``IntegrityError`` when one was claimed before, and then the transaction is the
        caller's to roll back (and :meth:`claim` says what became of it)."""
        now = utcnow()
        conn.execute(_ACCEPTED, [
            {"tenant_id": d.tenant_id, "source": d.source, "delivery_id": d.delivery_id,
             "event": d.event[:100], "ref": d.ref, "status": "accepted", "detail": d.detail,
             "project_id": d.project_id, "run_id": d.run_id, "received_at": now,
             "claimed_at": now, "done_at": now}
            for d in deliveries
        ])  # fmt: skip

    def finish(
        self, row_id: int, status: str, detail: str | None = None, **ids: str | None
    ) -> HookDelivery:
        """Record how a claimed delivery ended (``ids``: its ``project_id``, ``run_id``)."""
        values = {"status": status, "detail": detail, "done_at": utcnow(), **ids}
        with self._engine.begin() as conn:  # Core, one UPDATE ... RETURNING, built once
            params = {f"_{name}": value for name, value in values.items()} | {"_id": row_id}
            row = conn.execute(_finish(tuple(values)), params).first()
        if row is None:
            raise NotFound("hook delivery", str(row_id))
        return detached(HookDelivery, row._asdict())

    def linked_project(self, tenant_id: str, source: str, ref: str) -> str | None:
        """The project an earlier accepted delivery about ``ref`` made (or acted on)."""
        q = (
            select(HookDelivery.project_id)
            .join(Project, Project.id == HookDelivery.project_id)
            .where(
                HookDelivery.tenant_id == tenant_id,
                HookDelivery.source == source,
                HookDelivery.ref == ref,
                HookDelivery.status == "accepted",
                Project.tenant_id == tenant_id,
                Project.archived_at.is_(None),
            )
            .order_by(HookDelivery.id)
        )
        with self.sessions() as s:
            return s.scalars(q).first()

    def has_job(self, run_id: str) -> bool:
        """Whether the run queue holds a job of ``run_id`` (the store's queue)."""
        with self.sessions() as s:
            return s.scalars(select(RunJob.id).where(RunJob.run_id == run_id)).first() is not None

    def received(
        self,
        tenant_id: str,
        source: str | None = None,
        *,
        limit: int = 50,
        after: int | None = None,
    ) -> Page[HookDelivery]:
        q = select(HookDelivery).where(HookDelivery.tenant_id == tenant_id)
        if source:
            q = q.where(HookDelivery.source == source)
        with self.sessions() as s:
            return _by_id_desc(s, q, HookDelivery, limit, after)

    def _delivery(self, row_id: int) -> HookDelivery:
        with self.sessions() as s:
            row = s.get(HookDelivery, row_id)
        if row is None:
            raise NotFound("hook delivery", str(row_id))
        return row

    # outbound: subscriptions ------------------------------------------------------------------

    def add_webhook(
        self, tenant_id: str, url: str, events: list[str], secret: str, description: str = ""
    ) -> Webhook:
        """Subscribe ``url`` to ``events`` from now on (no earlier event is sent)."""
        webhook_id = new_id("wh")
        sealed = self.box.seal(tenant_id, webhook_name(webhook_id), secret)
        with self.sessions.begin() as s:
            last = s.scalar(select(func.max(Event.id))) or 0
            hook = Webhook(
                id=webhook_id, tenant_id=tenant_id, url=url, events=sorted(set(events)),
                secret=sealed, description=description, after_event=last,
                created_at=utcnow(),
            )  # fmt: skip
            s.add(hook)
        return hook

    def webhook(self, tenant_id: str, webhook_id: str) -> Webhook:
        with self.sessions() as s:
            hook = s.get(Webhook, webhook_id)
        if hook is None or hook.tenant_id != tenant_id or hook.deleted_at is not None:
            raise NotFound("webhook", webhook_id)
        return hook

    def webhooks(
        self, tenant_id: str, *, limit: int = 50, after: str | None = None
    ) -> Page[Webhook]:
        q = select(Webhook).where(Webhook.tenant_id == tenant_id, Webhook.deleted_at.is_(None))
        if after is not None:
            q = q.where(Webhook.id > after)
        limit = min(limit, MAX_PAGE)
        with self.sessions() as s:
            rows = list(s.scalars(q.order_by(Webhook.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, ("", rows[-1].id) if more and rows else None)

    def delete_webhook(self, tenant_id: str, webhook_id: str) -> None:
        """Unsubscribe: nothing more is sent (what is due is dropped as ``failed``)."""
        hook = self.webhook(tenant_id, webhook_id)
        with self.sessions.begin() as s:
            s.execute(update(Webhook).where(Webhook.id == hook.id).values(deleted_at=utcnow()))
            s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == hook.id,
                       WebhookDelivery.status.in_(("pending", "sending")))
                .values(status="failed", last_error="unsubscribed", finished_at=utcnow())
            )  # fmt: skip

    def signing_secret(self, webhook_id: str) -> str:
        with self.sessions() as s:
            hook = s.get(Webhook, webhook_id)
        if hook is None:
            raise NotFound("webhook", webhook_id)
        value = self.box.open(hook.tenant_id, webhook_name(hook.id), hook.secret)
        if self.box.stale(hook.secret):
            with self.sessions.begin() as s:
                s.execute(
                    update(Webhook)
                    .where(Webhook.id == hook.id, Webhook.secret == hook.secret)
                    .values(secret=self.box.seal(hook.tenant_id, webhook_name(hook.id), value))
                )  # fmt: skip
        return value

    # outbound: deliveries ---------------------------------------------------------------------

    def dispatch(self, limit: int = 500, *, upto: int | None = None) -> int:
        """Turn the events each subscription has not seen into its deliveries; how many.

        ``upto``: the feed's contiguous horizon (``vitco.store.feed.InOrder``); events after
        it are left for later, since one of a lower number may still commit and a
        subscription's cursor only moves forward."""
        with self.sessions() as s:
            ids = list(s.scalars(select(Webhook.id).where(Webhook.deleted_at.is_(None))))
        made = 0
        for webhook_id in ids:
            try:
                made += self._dispatch_one(webhook_id, limit, upto)
            except IntegrityError:  # another server dispatched it meanwhile: its cursor moved
                continue
        return made

    def first_cursor(self) -> int | None:
        """The lowest cursor of the live subscriptions (``None``: there are none)."""
        with self.sessions() as s:
            low = s.scalar(
                select(func.min(Webhook.after_event)).where(Webhook.deleted_at.is_(None))
            )
        return None if low is None else int(low)

    def _dispatch_one(self, webhook_id: str, limit: int, upto: int | None) -> int:
        with self.sessions.begin() as s:
            hook = s.scalars(
                select(Webhook).where(Webhook.id == webhook_id).with_for_update()
            ).one()
            q = (
                select(Event, Run.project_id)
                .join(Run, Run.id == Event.run_id)
                .join(Project, Project.id == Run.project_id)
                .where(Project.tenant_id == hook.tenant_id, Event.id > hook.after_event)
                .order_by(Event.id)
                .limit(limit)
            )
            if upto is not None:
                q = q.where(Event.id <= upto)
            rows = s.execute(q).all()
            made = 0
            for event, project_id in rows:
                if matches(hook.events, event.kind):
                    s.add(WebhookDelivery(
                        webhook_id=hook.id, tenant_id=hook.tenant_id, event_seq=event.id,
                        event_type=event.kind, payload=_payload(event, hook.tenant_id, project_id),
                        status="pending", attempts=0, next_at=utcnow(), created_at=utcnow(),
                    ))  # fmt: skip
                    made += 1
            if rows:
                hook.after_event = rows[-1][0].id
            return made

    def claim_due(self, n: int, *, lease: timedelta) -> list[WebhookDelivery]:
        """Take up to ``n`` deliveries that are due (and ones whose sender died holding them
        longer than ``lease``); each is taken by one caller only."""
        if n <= 0:
            return []
        now = utcnow()
        due = ((WebhookDelivery.status == "pending") & (WebhookDelivery.next_at <= now)) | (
            (WebhookDelivery.status == "sending") & (WebhookDelivery.claimed_at < now - lease)
        )
        taken: list[WebhookDelivery] = []
        with self.sessions.begin() as s:
            rows = list(s.scalars(
                select(WebhookDelivery).where(due).order_by(WebhookDelivery.next_at).limit(n)
            ))  # fmt: skip
            for row in rows:
                done = s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == row.id, WebhookDelivery.status == row.status,
                           WebhookDelivery.attempts == row.attempts)
                    .values(status="sending", claimed_at=now)
                )  # fmt: skip
                if getattr(done, "rowcount", 0) == 1:
                    row.status, row.claimed_at = "sending", now
                    taken.append(row)
        return taken

    def record(
        self,
        delivery_id: int,
        *,
        at: datetime,
        duration_s: float,
        status_code: int | None,
        error: str | None,
        retry_at: datetime | None,
    ) -> WebhookDelivery:
        """Write one attempt and what follows: succeeded (no error), due again at
        ``retry_at``, or failed (``retry_at`` None)."""
        with self.sessions.begin() as s:
            row = s.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound("webhook delivery", str(delivery_id))
            row.attempts += 1
            s.add(WebhookAttempt(
                delivery_id=row.id, number=row.attempts, at=at, duration_s=duration_s,
                status_code=status_code, error=error,
            ))  # fmt: skip
            row.last_status, row.last_error, row.claimed_at = status_code, error, None
            if error is None:
                row.status, row.finished_at = "succeeded", utcnow()
            elif retry_at is not None and row.status == "sending":
                row.status, row.next_at = "pending", retry_at
            else:
                row.status, row.finished_at = "failed", utcnow()
            return row

    def deliveries(
        self, tenant_id: str, webhook_id: str, *, limit: int = 50, after: int | None = None
    ) -> Page[WebhookDelivery]:
        hook = self.webhook(tenant_id, webhook_id)
        q = select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
        with self.sessions() as s:
            return _by_id_desc(s, q, WebhookDelivery, limit, after)

    def attempts(self, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
        q = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        )
        found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
        with self.sessions() as s:
            for attempt in s.scalars(q):
                found[attempt.delivery_id].append(attempt)
        return found


def _payload(event: Event, tenant_id: str, project_id: str) -> dict[str, Any]:
    """What a subscriber receives of an event (the same fields as ``GET .../events``)."""
    return {
        "type": event.kind,
        "seq": event.id,
        "tenant_id": tenant_id,
        "project_id": project_id,
        "run_id": event.run_id,
        "ts": event.ts.isoformat(),
        "step": event.step,
        "task": event.task,
        "message": event.message,
        "data": event.data,
    }
