"""The run lease in Redis, with fencing tokens: for fleets that put coordination on Redis.

Why not ``redis.lock.Lock`` alone: it gives mutual exclusion while the holder is alive, but no
fencing token (a holder that was paused past its timeout and wakes up cannot be told apart from
the new holder, so its late writes land), and its expiry is the key's own TTL, so a lock whose
holder died simply vanishes and cannot be listed as "expired, the run needs resuming". So each
operation here is a small Lua script (atomic on the server) over three keys under ``prefix``:

- ``lease:<run_id>``: a hash (owner, token, acquired_at, heartbeat_at, expires_at);
- ``lease-token``: the last token given, for every run (one counter serves all of them). A
  token is the greater of that counter plus one and the server's time in microseconds (not
  milliseconds: two acquisitions in one millisecond after a loss got the same token), so
  tokens keep rising even after Redis restarts without its data (the store's fence still
  holds the old ones: a counter starting again from 1 would be refused forever);
- ``leases``: a sorted set of run ids by expiry, for ``expired`` and ``stats``.

The clock is Redis ``TIME`` (the server's, one clock for all hosts), read inside the scripts;
Redis 5 and later replicate a script's effects rather than the script, so reading ``TIME``
before writing is allowed. Times are kept in milliseconds and returned in seconds. The keys
span hash slots: this is for a single Redis (or a primary with replicas), not Redis Cluster.
"""

from __future__ import annotations

from typing import Any

from vitco.leases.protocol import Lease, LeaseStats, check_request

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""
# KEYS: lease hash, token counter, expiry set; ARGV: owner, ttl ms, replace ('' = none), run id
_ACQUIRE = (
    _NOW
    + """
local cur = redis.call('HMGET', KEYS[1], 'owner', 'expires_at')
if cur[1] and tonumber(cur[2]) > now and cur[1] ~= ARGV[3] then return false end
local token = math.max(redis.call('INCR', KEYS[2]), now_us)
redis.call('SET', KEYS[2], string.format('%d', token))
local exp = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', string.format('%d', token),
           'acquired_at', now, 'heartbeat_at', now, 'expires_at', exp)
redis.call('ZADD', KEYS[3], exp, ARGV[4])
return {token, now, now, exp, now}
"""
)
# KEYS: lease hash, expiry set; ARGV: owner, token, ttl ms, run id
_RENEW = (
    _NOW
    + """
local cur = redis.call('HMGET', KEYS[1], 'owner', 'token', 'expires_at', 'acquired_at')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return false end
local exp = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'heartbeat_at', now, 'expires_at', exp)
redis.call('ZADD', KEYS[2], exp, ARGV[4])
return {tonumber(cur[2]), tonumber(cur[4]), now, exp, now}
"""
)
# KEYS: lease hash, expiry set; ARGV: owner, token, run id
_RELEASE = """
local cur = redis.call('HMGET', KEYS[1], 'owner', 'token')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""
_FIELDS = "'owner', 'token', 'acquired_at', 'heartbeat_at', 'expires_at'"
# KEYS: lease hash
_INSPECT = (
    _NOW
    + f"""
local cur = redis.call('HMGET', KEYS[1], {_FIELDS})
if not cur[1] then return false end
table.insert(cur, now)
return cur
"""
)
# KEYS: expiry set; ARGV: the lease hash key prefix
_EXPIRED = (
    _NOW
    + f"""
local out = {{}}
for _, run in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  local cur = redis.call('HMGET', ARGV[1] .. run, {_FIELDS})
  if cur[1] then
    table.insert(cur, 1, run)
    table.insert(cur, now)
    table.insert(out, cur)
  end
end
return out
"""
)
# KEYS: expiry set; ARGV: the lease hash key prefix
_STATS = (
    _NOW
    + """
local held, oldest = 0, 0
for _, run in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local acquired = tonumber(redis.call('HGET', ARGV[1] .. run, 'acquired_at'))
  if acquired then
    held = held + 1
    if now - acquired > oldest then oldest = now - acquired end
  end
end
return {held, oldest}
"""
)


class RedisRunLease:
    """``RunLease`` on Redis (see the module docstring); ``client`` is a redis-py client."""

    def __init__(self, client: Any, prefix: str = "vitco:") -> None:
        self.client = client
        self.prefix = prefix
        self._hash = prefix + "lease:"
        self._counter = prefix + "lease-token"
        self._set = prefix + "leases"
        self._scripts = {
            name: client.register_script(source)
            for name, source in {
                "acquire": _ACQUIRE,
                "renew": _RENEW,
                "release": _RELEASE,
                "inspect": _INSPECT,
                "expired": _EXPIRED,
                "stats": _STATS,
            }.items()
        }

    def acquire(
        self, run_id: str, owner: str, ttl_s: float, *, replace: str | None = None
    ) -> Lease | None:
        check_request(owner, ttl_s)
        keys = [self._hash + run_id, self._counter, self._set]
        got = self._scripts["acquire"](keys=keys, args=[owner, _ms(ttl_s), replace or "", run_id])
        return None if not got else _lease(run_id, owner, got)

    def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        check_request(lease.owner, ttl_s)
        keys = [self._hash + lease.run_id, self._set]
        args = [lease.owner, str(lease.token), _ms(ttl_s), lease.run_id]
        got = self._scripts["renew"](keys=keys, args=args)
        return None if not got else _lease(lease.run_id, lease.owner, got)

    def release(self, lease: Lease) -> bool:
        keys = [self._hash + lease.run_id, self._set]
        args = [lease.owner, str(lease.token), lease.run_id]
        return bool(self._scripts["release"](keys=keys, args=args))

    def inspect(self, run_id: str) -> Lease | None:
        got = self._scripts["inspect"](keys=[self._hash + run_id])
        return None if not got else _lease(run_id, _text(got[0]), got[1:])

    def expired(self) -> list[Lease]:
        got = self._scripts["expired"](keys=[self._set], args=[self._hash])
        return [_lease(_text(row[0]), _text(row[1]), row[2:]) for row in got]

    def stats(self) -> LeaseStats:
        held, oldest_ms = self._scripts["stats"](keys=[self._set], args=[self._hash])
        return LeaseStats(held=int(held), oldest_age_s=int(oldest_ms) / 1000)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _lease(run_id: str, owner: str, row: Any) -> Lease:
    """From (token, acquired_at, heartbeat_at, expires_at, now), times in milliseconds."""
    token, acquired, heartbeat, expires, now = (int(v) for v in row)
    return Lease(
        run_id, owner, token, acquired / 1000, heartbeat / 1000, expires / 1000, now / 1000
    )
