"""Errors of the store.

::

    StoreError
    ├── NotFound              no row of that kind with that id (carries kind and id)
    │   └── AmbiguousId       a prefix that starts several ids (carries kind, prefix, candidates)
    ├── AlreadyExists         a row of that kind with that key is there already (kind, key)
    ├── SandboxSlotContended  other processes kept taking the free sandbox slot first
    │                         (carries project_id and attempts)
    ├── SchemaTooNew          the database was migrated by a newer vitco: its revision is not
    │                         one this code knows (carries found and head; ``fix`` says what to do)
    └── SchemaOutdated        automatic migration is off and the schema is behind this code
                              (carries found and head; ``fix`` says what to do)

    FenceRefused (a BaseException)  a write for a run carried a lease token older than the
                              newest that drove the run: this process lost the run's lease
                              (carries run_id, token, current)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of store errors."""


class NotFound(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class AlreadyExists(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} exists already")


class AmbiguousId(NotFound):
    """``prefix`` starts more than one id of ``kind``; ``candidates`` are some of them."""

    def __init__(self, kind: str, prefix: str, candidates: list[str]) -> None:
        super().__init__(kind, prefix)
        self.prefix = prefix
        self.candidates = candidates
        self.fix = "give more characters of the id: " + ", ".join(candidates)
        self.args = (f"{prefix!r} is the start of more than one {kind}: {', '.join(candidates)}",)


class SandboxSlotContended(StoreError):
    """A new project found no sandbox slot of its own: each of ``attempts`` tries picked the
    smallest free slot and lost it to another process creating a project at the same time."""

    def __init__(self, project_id: str, attempts: int) -> None:
        self.project_id = project_id
        self.attempts = attempts
        super().__init__(
            f"project {project_id!r} was not created: {attempts} times another process took "
            "the free sandbox slot first. Create it again (nothing was stored)"
        )


class SchemaTooNew(StoreError):
    """The database's schema revision ``found`` is unknown to this code, whose newest revision
    is ``head``: a newer vitco migrated it. Nothing was changed."""

    def __init__(self, found: str, head: str) -> None:
        self.found = found
        self.head = head
        self.fix = (
            "upgrade vitco on this host to the version that migrated the database "
            "(downgrading the schema would lose what the newer version stores)"
        )
        super().__init__(
            f"the database schema is at revision {found!r}, newer than this vitco knows "
            f"(its newest is {head!r}): a newer vitco migrated it. Upgrade vitco"
        )


class SchemaOutdated(StoreError):
    """The database's schema revision ``found`` (None: never migrated) is behind ``head`` and
    the caller asked not to migrate automatically."""

    def __init__(self, found: str | None, head: str) -> None:
        self.found = found
        self.head = head
        self.fix = "run `vitco db upgrade` once (from one host), then start vitco again"
        at = "has never been migrated" if found is None else f"is at revision {found!r}"
        super().__init__(
            f"the database schema {at}, behind this vitco's {head!r}, and automatic "
            "migration is off. Run `vitco db upgrade`"
        )


class FenceRefused(BaseException):
    """A write for ``run_id`` carried lease token ``token`` but ``current`` (newer) has driven
    the run since: this process lost the run's lease (it was paused or cut off past the
    lease's expiry) and another took it over. Nothing of the write was stored.

    Not an ``Exception``, like the workflow's ``RunInterrupted``: a step's own error handling
    must not catch it and record it as the step's failure (that record would be refused too);
    it has to unwind the whole run.
    """

    def __init__(self, run_id: str, token: int, current: int | None) -> None:
        self.run_id = run_id
        self.token = token
        self.current = current
        super().__init__(
            f"run {run_id}: this process's lease (token {token}) was taken over "
            f"(token {current} drives the run now); nothing more of it is written"
        )
