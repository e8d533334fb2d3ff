"""Errors of the run queue.

::

    QueueError
    ├── BadJob             an enqueue the queue refuses (carries field, value and why)
    └── QueueUnavailable   the queue's backend cannot be reached (carries backend and cause;
                           ``fix`` says what to check)
"""

from __future__ import annotations


class QueueError(Exception):
    """Base of run queue errors."""


class BadJob(QueueError):
    """``field`` of an enqueue is ``value``, which the queue refuses (``why``)."""

    def __init__(self, field: str, value: object, why: str) -> None:
        self.field = field
        self.value = value
        self.why = why
        super().__init__(f"job {field} {value!r} refused: {why}")


class QueueUnavailable(QueueError):
    """The ``backend`` (``redis``, ``store``) did not answer."""

    def __init__(self, backend: str, cause: str) -> None:
        self.backend = backend
        self.cause = cause
        self.fix = (
            "check that VITCO_REDIS_URL reaches a running Redis server"
            if backend == "redis"
            else "check that VITCO_DATABASE_URL reaches the database"
        )
        super().__init__(f"the {backend} run queue is unavailable: {cause}")
