"""Run leases: which process executes a run, for how long, with a fencing token.

``RunLease`` (``protocol``) has two implementations passing one conformance suite: a row in the
store's database (``sql``: SQLite or PostgreSQL, the default) and a Redis hash driven by Lua
scripts (``redis``). ``hold`` takes and renews a lease while a run executes; ``owner`` names
holders and tells a dead local holder from a live one; ``open_leases`` picks the backend from
the settings.
"""

from __future__ import annotations

from vitco.leases.exceptions import BadLeaseRequest, LeaseBackendMissing, LeaseError
from vitco.leases.factory import lease_stats, open_leases
from vitco.leases.hold import Held, take
from vitco.leases.protocol import Lease, LeaseStats, RunLease

__all__ = [
    "BadLeaseRequest",
    "Held",
    "Lease",
    "LeaseBackendMissing",
    "LeaseError",
    "LeaseStats",
    "RunLease",
    "lease_stats",
    "open_leases",
    "take",
]
