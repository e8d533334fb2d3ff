"""Per-provider circuit breakers: stop calling a provider that keeps failing, probe it later.

A provider that is down makes every call wait for its timeouts and retries before falling
back. After ``failures`` consecutive failures of a provider its breaker *opens*: the router
skips that provider's models at once. After ``cooldown_s`` the breaker is *half-open*: exactly
one call is let through as a probe; its success closes the breaker, its failure opens it for
another cool-down. Only failures that say something about the provider's health count (see
:func:`vitco.llm.retry.counts_against_provider`).

Breakers are keyed by provider (``openai``, ``anthropic``, a configured ``box``...), not model:
an outage or a rate limit is the provider's. The state of every breaker is published as the
``vitco_breaker_state`` gauge and, when a :class:`BreakerStore` is given, saved there so that
``vitco models list`` in another process shows it and a new process starts with what the last
one learnt. Time comes from an injectable clock (wall time, as it is shared between processes),
so tests never wait.

Where the shared state lives: the ``llm_breakers`` table of the store's database
(:class:`StoreBreakerStore`), created by the store's migrations like every other table, so one
versioned schema holds all of vitco's state, on SQLite and PostgreSQL alike. With
``VITCO_REDIS_URL`` set (a fleet of workers on several hosts) it lives in one Redis hash
(:class:`RedisBreakerStore`), next to the response cache, so a provider one host gave up on is
skipped by every host. Either way the state is a hint, not a record: a lost write means one
process learns an outage again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select

from vitco.observability.metrics import BREAKER_STATE
from vitco.store.llm_state import breakers_table, upsert

__all__ = [
    "BreakerBoard",
    "BreakerPolicy",
    "BreakerState",
    "BreakerStatus",
    "BreakerStore",
    "CircuitBreaker",
    "RedisBreakerStore",
    "StoreBreakerStore",
]

BreakerState = Literal["closed", "half_open", "open"]
_GAUGE = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True)
class BreakerPolicy:
    """Open after ``failures`` consecutive failures; probe again after ``cooldown_s``."""

    failures: int = 5
    cooldown_s: float = 30.0

    def __post_init__(self) -> None:
        if self.failures < 1:
            raise ValueError("failures must be at least 1")
        if self.cooldown_s < 0:
            raise ValueError("cooldown_s must not be negative")


@dataclass(frozen=True)
class BreakerStatus:
    """A snapshot of one breaker, for listings, metrics and the shared store."""

    provider: str
    state: BreakerState
    failures: int
    opened_at: float | None = None
    last_error: str | None = None
    retry_in_s: float | None = None


class BreakerStore(Protocol):
    """Where breaker state is shared between processes."""

    def save(self, status: BreakerStatus) -> None:
        """Keep ``status`` as its provider's latest state (replacing the one before)."""
        ...

    def load(self) -> list[BreakerStatus]:
        """The latest state of every provider saved so far (unreadable entries left out)."""
        ...


class CircuitBreaker:
    """One provider's breaker; thread-safe."""

    def __init__(
        self,
        provider: str,
        policy: BreakerPolicy,
        clock: Callable[[], float],
        on_change: Callable[[BreakerStatus], None] | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_started: float | None = None
        self._last_error: str | None = None

    def restore(self, status: BreakerStatus) -> None:
        """Take over a state saved by another process (a half-open probe is not carried)."""
        with self._lock:
            self._failures = status.failures
            self._last_error = status.last_error
            if status.state == "closed" or status.opened_at is None:
                self._state, self._opened_at = "closed", None
            else:
                self._state, self._opened_at = "open", status.opened_at
        BREAKER_STATE.labels(self.provider).set(_GAUGE[self._state])

    def allow(self) -> bool:
        """May a call go to this provider now? In half-open state only one probe may."""
        changed = None
        with self._lock:
            now = self._clock()
            if self._state == "closed":
                return True
            assert self._opened_at is not None
            if self._state == "open":
                if now - self._opened_at < self.policy.cooldown_s:
                    return False
                self._state = "half_open"
                self._probe_started = now
                changed = self._snapshot(now)
            else:  # half-open: one probe at a time; a probe that never reported is replaced
                if (
                    self._probe_started is not None
                    and now - self._probe_started < self.policy.cooldown_s
                ):
                    return False
                self._probe_started = now
        if changed is not None:
            self._changed(changed)
        return True

    def success(self) -> None:
        """A call to the provider succeeded: close the breaker."""
        with self._lock:
            was = self._state
            self._state, self._failures = "closed", 0
            self._opened_at = self._probe_started = None
            snapshot = self._snapshot(self._clock())
        if was != "closed":
            self._changed(snapshot)

    def failure(self, error: str) -> bool:
        """A call failed in a way that counts; returns True when this opened the breaker."""
        with self._lock:
            now = self._clock()
            self._failures += 1
            self._last_error = error[:300]
            opens = self._state == "half_open" or (
                self._state == "closed" and self._failures >= self.policy.failures
            )
            if opens:
                self._state, self._opened_at, self._probe_started = "open", now, None
            snapshot = self._snapshot(now)
        if opens:
            self._changed(snapshot)
        return opens

    def release(self) -> None:
        """A probe ended without saying anything about the provider (e.g. a 400): let another."""
        with self._lock:
            self._probe_started = None

    def status(self) -> BreakerStatus:
        with self._lock:
            return self._snapshot(self._clock())

    def _snapshot(self, now: float) -> BreakerStatus:
        retry_in = None
        if self._state == "open" and self._opened_at is not None:
            retry_in = max(0.0, self.policy.cooldown_s - (now - self._opened_at))
        return BreakerStatus(
            provider=self.provider,
            state=self._state,
            failures=self._failures,
            opened_at=self._opened_at,
            last_error=self._last_error,
            retry_in_s=retry_in,
        )

    def _changed(self, status: BreakerStatus) -> None:
        BREAKER_STATE.labels(self.provider).set(_GAUGE[status.state])
        if self._on_change is not None:
            self._on_change(status)


class BreakerBoard:
    """The breakers of all providers, created on first use; optionally shared via a store."""

    def __init__(
        self,
        policy: BreakerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        store: BreakerStore | None = None,
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self.clock = clock
        self.store = store
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._saved = {s.provider: s for s in store.load()} if store is not None else {}

    def get(self, provider: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(provider)
            if breaker is None:
                save = self.store.save if self.store is not None else None
                breaker = CircuitBreaker(provider, self.policy, self.clock, save)
                saved = self._saved.get(provider)
                if saved is not None:
                    breaker.restore(saved)
                else:
                    BREAKER_STATE.labels(provider).set(0)
                self._breakers[provider] = breaker
            return breaker

    def status(self, provider: str) -> BreakerStatus:
        """The state of ``provider``'s breaker (closed if it was never used)."""
        return self.get(provider).status()


class _Saved(BaseModel):
    """A saved breaker, as read back: anything else (another version's state) is skipped."""

    provider: str
    state: BreakerState
    failures: int
    opened_at: float | None = None
    last_error: str | None = None

    def status(self) -> BreakerStatus:
        return BreakerStatus(**self.model_dump())


def _saved(status: BreakerStatus) -> dict[str, Any]:
    return {k: v for k, v in asdict(status).items() if k != "retry_in_s"}


_LOAD = select(
    breakers_table.c.provider,
    breakers_table.c.state,
    breakers_table.c.failures,
    breakers_table.c.opened_at,
    breakers_table.c.last_error,
)


class StoreBreakerStore:
    """Breaker state in the store's database: the ``llm_breakers`` table (SQLite or
    PostgreSQL), one row per provider, through the ``engine`` passed in (the store's)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def save(self, status: BreakerStatus) -> None:
        with self.engine.begin() as conn:
            upsert(conn, breakers_table, {**_saved(status), "updated_at": self.clock()})

    def load(self) -> list[BreakerStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(_LOAD).mappings().all()
        statuses = []
        for row in rows:
            try:
                statuses.append(_Saved.model_validate(dict(row)).status())
            except ValidationError:
                continue
        return statuses


class RedisBreakerStore:
    """Breaker state in Redis, shared by every host: one hash, ``<prefix>breakers``, with a
    JSON value per provider, so that loading them all is one ``HGETALL`` (no scan of a keyspace
    the response cache fills).

    The ``redis.Redis`` client is passed in; ``prefix`` namespaces the key (one deployment, or
    one test run, per prefix).
    """

    def __init__(self, client: Any, *, prefix: str = "vitco:") -> None:
        self.client = client
        self.key = prefix + "breakers"

    def save(self, status: BreakerStatus) -> None:
        self.client.hset(self.key, status.provider, _Saved(**_saved(status)).model_dump_json())

    def load(self) -> list[BreakerStatus]:
        statuses = []
        for raw in self.client.hgetall(self.key).values():
            try:
                statuses.append(_Saved.model_validate_json(raw).status())
            except ValidationError:
                continue
        return statuses
