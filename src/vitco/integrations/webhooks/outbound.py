"""Outbound webhooks: the events of a tenant's runs, sent to the URLs it subscribed, signed,
retried with backoff, each attempt recorded.

A run never waits for a subscriber. Runs write events to the store as they always do; this
module reads them from there, on threads of its own:

- one *pump* thread turns new events into deliveries (``WebhookStore.dispatch``, a cursor per
  subscription, so nothing is lost across restarts), up to the feed's contiguous horizon
  (``vitco.store.feed.InOrder``: on PostgreSQL an event may commit after one with a higher
  number, and a cursor that had moved past it would skip it), and moves the deliveries that
  are due into a **bounded** queue, taking only as many as the queue has room for (the rest
  stay in the database, due, until there is room);
- ``workers`` sender threads take them off the queue and POST each once, with a timeout,
  without following redirects and without reading more than the status of the answer.

Each delivery is signed the Standard Webhooks way (``vitco.integrations.webhooks.signing``:
``webhook-id`` is ``whd-<delivery id>``, the same on every attempt, so a receiver can drop
repeats), with the subscription's secret; ``X-Vitco-Event`` names the event kind.

A delivery that fails (an error, a timeout, an answer other than 2xx) is due again after
``backoff``: exponential from ``backoff_s``, with jitter, capped at ``max_backoff_s``; after
``max_attempts`` it is ``failed``. A subscriber URL must resolve to public addresses only
(checked when subscribing and before each send), unless ``allow_private`` (tests, a private
deployment).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import queue
import random
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

import vitco
from vitco.integrations.webhooks.exceptions import UnsafeUrl
from vitco.integrations.webhooks.signing import standard_headers
from vitco.store.feed import GAP_S, EventFeed, InOrder
from vitco.store.webhook_models import WebhookDelivery
from vitco.store.webhooks import WebhookStore

logger = logging.getLogger("vitco.webhooks")

EVENT_HEADER = "X-Vitco-Event"


def backoff(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2...): ``base_s * 2**(n-1)``
    with "equal jitter" (between half and all of it), at most ``cap_s``."""
    full: float = min(cap_s, base_s * 2.0 ** (attempt - 1))
    return full / 2 + full / 2 * rand()


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Raise ``UnsafeUrl`` unless ``url`` is http(s) and its host resolves to public addresses
    only (a subscriber must not make vitco call into its own network)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeUrl(url, f"not a URL ({exc})") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeUrl(url, "only http:// and https:// URLs with a host are sent to")
    if parsed.userinfo:
        raise UnsafeUrl(url, "a URL with credentials in it is refused")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parsed.host, parsed.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(url, f"its host does not resolve ({exc})") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]))
        if not address.is_global:
            raise UnsafeUrl(url, f"its host resolves to a private address ({address})")


class Outbound:
    """Sends deliveries (see the module docstring); ``start`` and ``close`` with the server."""

    def __init__(
        self,
        hooks: WebhookStore,
        client: httpx.Client,
        *,
        workers: int = 4,
        queue_size: int = 64,
        timeout_s: float = 10.0,
        max_attempts: int = 6,
        backoff_s: float = 2.0,
        max_backoff_s: float = 3600.0,
        poll_s: float = 1.0,
        allow_private: bool = False,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        owns_client: bool = False,
        gap_s: float = GAP_S,
        gap_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hooks = hooks
        self.client = client
        self.workers = workers
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.poll_s = poll_s
        self.allow_private = allow_private
        self.clock, self.rand = clock, rand
        self.owns_client = owns_client
        self.feed = EventFeed(hooks.sessions)
        self.order: InOrder | None = None  # the feed's horizon, from the first pass on
        self.gap_s, self.gap_clock = gap_s, gap_clock
        self.queue: queue.Queue[WebhookDelivery | None] = queue.Queue(maxsize=queue_size)
        # a delivery may wait its turn behind a full queue of slow ones: only then is it
        # presumed lost by a dead server and taken again
        self.lease = timedelta(seconds=timeout_s * (queue_size // max(1, workers) + 3))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        self._threads = [threading.Thread(target=self._pump, name="webhooks-pump", daemon=True)]
        self._threads += [
            threading.Thread(target=self._send_loop, name=f"webhooks-send-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def poke(self) -> None:
        """Look for new events and due deliveries now rather than at the next poll."""
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for _ in range(self.workers):
            try:
                self.queue.put(None, timeout=self.timeout_s + 1)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(self.timeout_s + 5)
        self._threads = []
        if self.owns_client:
            self.client.close()

    def pump(self) -> int:
        """One pass: new events into deliveries, due deliveries into the queue (as many as
        it has room for); how many were queued."""
        self.hooks.dispatch(upto=self.horizon())
        room = self.queue.maxsize - self.queue.qsize()
        taken = self.hooks.claim_due(room, lease=self.lease)
        for delivery in taken:
            self.queue.put_nowait(delivery)  # only this thread puts: the room is there
        return len(taken)

    def horizon(self, batch: int = 1000) -> int:
        """The feed's contiguous horizon: the highest number up to which every event has
        committed (or rolled back long enough ago); read by number only."""
        if self.order is None:
            first = self.hooks.first_cursor()
            start = self.feed.head() if first is None else first
            self.order = InOrder(start, gap_s=self.gap_s, clock=self.gap_clock)
        while True:
            numbers = self.feed.numbers_after(self.order.seen, batch)
            taken = 0
            for seq in numbers:
                if not self.order.take(seq):
                    break
                taken += 1
            if taken < batch:
                return self.order.seen

    def send(self, delivery: WebhookDelivery) -> None:
        """One attempt at ``delivery``, recorded with what comes next."""
        at = datetime.now(UTC)
        started = time.monotonic()
        status_code, error = None, None
        try:
            status_code = self._post(delivery)
            if not 200 <= status_code < 300:
                error = f"answered HTTP {status_code}"
        except (httpx.HTTPError, UnsafeUrl) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        number = delivery.attempts + 1
        retry_at = None
        if error is not None and number < self.max_attempts:
            delay = backoff(number, self.backoff_s, self.max_backoff_s, self.rand)
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        self.hooks.record(
            delivery.id, at=at, duration_s=time.monotonic() - started,
            status_code=status_code, error=error, retry_at=retry_at,
        )  # fmt: skip

    def _post(self, delivery: WebhookDelivery) -> int:
        hook = self.hooks.webhook(delivery.tenant_id, delivery.webhook_id)
        check_url(hook.url, allow_private=self.allow_private)
        body = json.dumps(delivery.payload, separators=(",", ":"), default=str).encode()
        secret = self.hooks.signing_secret(hook.id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"vitco-webhooks/{vitco.__version__}",
            EVENT_HEADER: delivery.event_type,
            **standard_headers(secret, f"whd-{delivery.id}", int(self.clock()), body),
        }
        with self.client.stream(
            "POST", hook.url, content=body, headers=headers, timeout=self.timeout_s
        ) as answer:  # its body is not read: a subscriber cannot make vitco hold megabytes
            return answer.status_code

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump()
            except Exception:  # the database went away for a moment: try again later
                logger.exception("webhook deliveries not dispatched")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _send_loop(self) -> None:
        while True:
            delivery = self.queue.get()
            if delivery is None or self._stop.is_set():
                return
            try:
                self.send(delivery)
            except Exception:  # recorded nothing: its lease runs out and it is taken again
                logger.exception("webhook delivery whd-%s not recorded", delivery.id)
            if self.queue.empty():
                self._wake.set()
