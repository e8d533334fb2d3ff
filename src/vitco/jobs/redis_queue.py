"""The run queue in Redis, shared by every worker of a fleet (``VITCO_QUEUE=redis``).

Why hand-written Lua on sorted sets and not a library or Streams: the queue must give a
visibility timeout with renewal and takeover, priorities, per-tenant fairness, cancelling a
run's queued jobs and fencing of stale acks (``vitco.jobs.queue``), all atomically across
workers. Redis Streams with consumer groups and ``XAUTOCLAIM`` give the lease and takeover but
no priority, no fairness between tenants (that needs a stream per tenant and priority, and a
consumer that polls them all in turn) and no way to drop a queued entry by run; arq orders by
time only and has no renewable lease (a job is retried after its whole timeout); taskiq's
Redis brokers are lists or streams with the same gaps; Celery emulates priorities on Redis
with separate lists and has neither fairness nor renewal; Dramatiq's Redis broker has
heartbeats but priority per actor, not per message, and no tenants. Each would leave most of
the semantics to code around it. Five short Lua scripts (run atomically by the server, with
the server's clock, so workers' clocks never disagree about a lease) do all of it with
redis-py, the client vitco already uses.

Keys under ``prefix`` (one installation per prefix)::

    seq              INCR: job ids
    job:<id>         hash: run_id action payload tenant priority status attempt consumer
                     taken_at lease_until (ms); expires a week after the job ended
    q:<tenant>       zset of the tenant's queued job ids, score (100 - priority) * 2^40 + id
    tenants          set of tenants with queued jobs
    turn             INCR: counts the tenants' turns
    served           hash: tenant -> the turn it was last served in: whose turn it is
    leased           zset: held job id -> lease end (ms)
    held             zset: held job id -> when it was taken (ms): the oldest lease's age
    run:<run_id>     set of the run's queued job ids (cancel)
    key:<key>        the job id of an idempotent enqueue

and one pub/sub channel, ``wake``: an enqueue and a release publish the job's id on it, and an
idle worker listening (``listen``) takes at once instead of at its next poll. Without it a run
submitted to an idle fleet waited up to a poll (2 s by default) before a worker looked; a
worker still polls (a lease that ran out, a message missed while Redis was away).

(each key is ``<prefix>{<tag>}<name>``, see below). A take first takes over a job whose lease
ended, else serves the tenant whose queue head has the highest priority and, among those, the
one served longest ago.

Redis Cluster: every key of one queue carries the same hash tag, ``{<tag>}`` right after the
prefix (``tag``: the first 12 hex digits of the prefix's SHA-1, so two installations' queues
fall in different slots), so all of them live in one slot. Each script is called with that
base (``<prefix>{<tag>}``) as its one declared key and reaches only keys that begin with it,
so a cluster routes every call to the node that holds the whole queue.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any, cast

from vitco.jobs.exceptions import BadJob, QueueUnavailable
from vitco.jobs.queue import (
    DEFAULT_TENANT,
    LEASE_S,
    PRIORITIES,
    Action,
    Ending,
    Job,
    QueueStats,
    check_job,
    check_lease,
)
from vitco.jobs.wakeups import LISTEN_RETRY_S, listening

KEPT_S = 7 * 24 * 3600  # an ended job's hash (and its enqueue key) lasts this long

logger = logging.getLogger("vitco.jobs")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

ENQUEUE = (
    _NOW
    + """
local P = KEYS[1]
local run_id, action, payload, tenant = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local priority, key = tonumber(ARGV[5]), ARGV[6]
if key ~= '' then
  local known = redis.call('GET', P .. 'key:' .. key)
  if known then return tonumber(known) end
end
local id = redis.call('INCR', P .. 'seq')
redis.call('HSET', P .. 'job:' .. id, 'run_id', run_id, 'action', action, 'payload', payload,
  'tenant', tenant, 'priority', priority, 'status', 'queued', 'attempt', 0, 'key', key,
  'created_at', now)
redis.call('ZADD', P .. 'q:' .. tenant, (100 - priority) * 1099511627776 + id, id)
redis.call('SADD', P .. 'tenants', tenant)
redis.call('SADD', P .. 'run:' .. run_id, id)
if key ~= '' then redis.call('SET', P .. 'key:' .. key, id) end
redis.call('PUBLISH', P .. 'wake', id)
return id
"""
)

TAKE = (
    _NOW
    + """
local P = KEYS[1]
local consumer, lease, least = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local id = nil
local expired = redis.call('ZRANGEBYSCORE', P .. 'leased', '-inf', now, 'LIMIT', 0, 16)
for _, candidate in ipairs(expired) do
  if tonumber(redis.call('HGET', P .. 'job:' .. candidate, 'priority')) >= least then
    id = candidate
    break
  end
end
if id == nil then
  local best, best_band, best_served = nil, nil, nil
  for _, tenant in ipairs(redis.call('SMEMBERS', P .. 'tenants')) do
    local head = redis.call('ZRANGE', P .. 'q:' .. tenant, 0, 0, 'WITHSCORES')
    if #head == 0 then
      redis.call('SREM', P .. 'tenants', tenant)
    else
      local band = math.floor(tonumber(head[2]) / 1099511627776)
      local served = tonumber(redis.call('HGET', P .. 'served', tenant) or '0')
      if band > 100 - least then
        -- the tenant's best job is below the least priority asked for: none of its jobs
      elseif best == nil or band < best_band or (band == best_band and
          (served < best_served or (served == best_served and tenant < best))) then
        best, best_band, best_served = tenant, band, served
      end
    end
  end
  if best == nil then return false end
  id = redis.call('ZPOPMIN', P .. 'q:' .. best)[1]
  if redis.call('ZCARD', P .. 'q:' .. best) == 0 then redis.call('SREM', P .. 'tenants', best) end
  redis.call('HSET', P .. 'served', best, redis.call('INCR', P .. 'turn'))
  local run_id = redis.call('HGET', P .. 'job:' .. id, 'run_id')
  redis.call('SREM', P .. 'run:' .. run_id, id)
end
local job = P .. 'job:' .. id
local attempt = redis.call('HINCRBY', job, 'attempt', 1)
redis.call('HSET', job, 'status', 'taken', 'consumer', consumer, 'taken_at', now,
  'lease_until', now + lease)
redis.call('ZADD', P .. 'leased', now + lease, id)
redis.call('ZADD', P .. 'held', now, id)
return {id, redis.call('HGET', job, 'run_id'), redis.call('HGET', job, 'action'),
  redis.call('HGET', job, 'payload'), redis.call('HGET', job, 'tenant'),
  redis.call('HGET', job, 'priority'), attempt}
"""
)

# ARGV[1] job id, ARGV[2] the attempt the caller holds, then what to do with the job
HELD = """
local P = KEYS[1]
local id, attempt = ARGV[1], ARGV[2]
local job = P .. 'job:' .. id
if redis.call('HGET', job, 'status') ~= 'taken' or redis.call('HGET', job, 'attempt') ~= attempt
then return 0 end
"""

RENEW = (
    _NOW
    + HELD
    + """
local lease = tonumber(ARGV[3])
redis.call('HSET', job, 'lease_until', now + lease)
redis.call('ZADD', P .. 'leased', now + lease, id)
return 1
"""
)

FINISH = (
    _NOW
    + HELD
    + """
redis.call('HSET', job, 'status', ARGV[3], 'finished_at', now)
redis.call('ZREM', P .. 'leased', id)
redis.call('ZREM', P .. 'held', id)
redis.call('EXPIRE', job, tonumber(ARGV[4]))
local key = redis.call('HGET', job, 'key')
if key and key ~= '' then redis.call('EXPIRE', P .. 'key:' .. key, tonumber(ARGV[4])) end
return 1
"""
)

RELEASE = (
    HELD
    + """
local tenant = redis.call('HGET', job, 'tenant')
local priority = tonumber(redis.call('HGET', job, 'priority'))
redis.call('HSET', job, 'status', 'queued', 'consumer', '')
redis.call('ZREM', P .. 'leased', id)
redis.call('ZREM', P .. 'held', id)
redis.call('ZADD', P .. 'q:' .. tenant, (100 - priority) * 1099511627776 + tonumber(id), id)
redis.call('SADD', P .. 'tenants', tenant)
redis.call('SADD', P .. 'run:' .. redis.call('HGET', job, 'run_id'), id)
redis.call('PUBLISH', P .. 'wake', id)
return 1
"""
)

CANCEL = (
    _NOW
    + """
local P, run_id, kept = KEYS[1], ARGV[1], tonumber(ARGV[2])
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', P .. 'run:' .. run_id)) do
  local job = P .. 'job:' .. id
  if redis.call('HGET', job, 'status') == 'queued' then
    local tenant = redis.call('HGET', job, 'tenant')
    redis.call('ZREM', P .. 'q:' .. tenant, id)
    if redis.call('ZCARD', P .. 'q:' .. tenant) == 0 then
      redis.call('SREM', P .. 'tenants', tenant)
    end
    redis.call('HSET', job, 'status', 'cancelled', 'finished_at', now)
    redis.call('EXPIRE', job, kept)
    n = n + 1
  end
end
redis.call('DEL', P .. 'run:' .. run_id)
return n
"""
)

STATS = (
    _NOW
    + """
local P = KEYS[1]
local depth = 0
for _, tenant in ipairs(redis.call('SMEMBERS', P .. 'tenants')) do
  depth = depth + redis.call('ZCARD', P .. 'q:' .. tenant)
end
local oldest = redis.call('ZRANGE', P .. 'held', 0, 0, 'WITHSCORES')
local age = 0
if #oldest > 0 then age = now - tonumber(oldest[2]) end
return {depth, redis.call('ZCARD', P .. 'held'), age}
"""
)


def connect(url: str) -> Any:
    """A redis-py client of ``url`` (raises ``QueueUnavailable`` without redis-py)."""
    try:
        import redis
    except ImportError as exc:
        raise QueueUnavailable(
            "redis", "redis-py is not installed (pip install 'vitco[redis]')"
        ) from exc
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)


def hash_tagged(prefix: str) -> str:
    """``prefix`` and the queue's hash tag: the keys built on it share one cluster slot."""
    tag = hashlib.sha1(prefix.encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{prefix}{{{tag}}}"


class RedisRunQueue:
    """The queue in Redis (see the module docstring); ``client`` is a ``redis.Redis``."""

    def __init__(self, client: Any, *, prefix: str = "vitco:queue:") -> None:
        self.client = client
        self.prefix = prefix
        self.base = hash_tagged(prefix)  # every key of this queue begins with it
        self._scripts = {
            name: client.register_script(source)
            for name, source in {
                "enqueue": ENQUEUE,
                "take": TAKE,
                "renew": RENEW,
                "finish": FINISH,
                "release": RELEASE,
                "cancel": CANCEL,
                "stats": STATS,
            }.items()
        }

    def _call(self, name: str, *args: object) -> Any:
        import redis

        try:
            return self._scripts[name](keys=[self.base], args=list(args))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise QueueUnavailable("redis", str(exc)) from exc

    def enqueue(
        self,
        run_id: str,
        action: Action,
        payload: dict[str, Any] | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        priority: int = 0,
        key: str | None = None,
    ) -> int:
        text = check_job(run_id, action, payload, tenant, priority, key)
        return int(self._call("enqueue", run_id, action, text or "", tenant, priority, key or ""))

    def take(
        self, consumer: str, lease_s: float = LEASE_S, *, least: int = PRIORITIES[0]
    ) -> Job | None:
        check_lease(lease_s)
        row = self._call("take", consumer[:100], int(lease_s * 1000), int(least))
        if not row:
            return None
        job_id, run_id, action, payload, tenant, priority, attempt = row
        text = payload.decode() if payload else ""
        return Job(
            int(job_id),
            run_id.decode(),
            cast(Action, action.decode()),
            json.loads(text) if text else None,
            tenant.decode(),
            int(priority),
            int(attempt),
        )

    def renew(self, job: Job, lease_s: float = LEASE_S) -> bool:
        check_lease(lease_s)
        return bool(self._call("renew", job.id, job.attempt, int(lease_s * 1000)))

    def finish(self, job: Job, status: Ending = "done") -> bool:
        if status not in ("done", "failed", "cancelled"):
            raise BadJob("status", status, "one of done, failed, cancelled")
        return bool(self._call("finish", job.id, job.attempt, status, KEPT_S))

    def release(self, job: Job) -> bool:
        return bool(self._call("release", job.id, job.attempt))

    def cancel(self, run_id: str) -> int:
        return int(self._call("cancel", run_id, KEPT_S))

    def stats(self) -> QueueStats:
        depth, taken, age_ms = self._call("stats")
        return QueueStats(int(depth), int(taken), max(0, int(age_ms)) / 1000)

    def listen(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` for every enqueue and release (of any process) heard on the queue's
        channel, from a thread of its own with a connection of its own; after Redis was away
        it subscribes again and calls ``wake`` once (what was queued meanwhile went unheard).
        Returns what stops it (within a second)."""
        return listening(self._listen, wake)

    def _listen(self, wake: Callable[[], None], stopped: threading.Event) -> None:
        import redis

        while not stopped.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.base + "wake")
                wake()  # listening from now on: look once for what came before
                while not stopped.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        wake()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                logger.debug("queue listener: Redis away (%s), polling meanwhile", exc)
                stopped.wait(LISTEN_RETRY_S)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()
