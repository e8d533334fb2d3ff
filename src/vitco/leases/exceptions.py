"""Errors of run leases.

::

    LeaseError            base
    ├── BadLeaseRequest   an owner that is empty or too long, a ttl that is not positive
    │                     (carries field and value)
    └── LeaseBackendMissing  the configured backend cannot be built (e.g. lease_backend="redis"
                          without redis_url); ``fix`` says what to set

The store's ``FenceRefused`` (``vitco.store.exceptions``) is what a holder that lost its lease
meets when it writes; the workflow's ``LeaseLost`` is how the run reports it.
"""

from __future__ import annotations


class LeaseError(Exception):
    """Base of lease errors."""


class BadLeaseRequest(LeaseError, ValueError):
    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"lease {field} {value!r}: {reason}")


class LeaseBackendMissing(LeaseError):
    def __init__(self, backend: str, fix: str) -> None:
        self.backend = backend
        self.fix = fix
        super().__init__(f"the {backend} lease backend cannot be used: {fix}")
