"""Artifacts: the typed outputs of a run's steps (spec, plan, changesets, reviews, reports).

A step's artifacts are held and written with the rest of its writes when it ends
(``Store.step``), and the workflow's checkpoint that records the step is written after them.
A process that dies between the two leaves the artifacts stored and the step not done, so the
step runs again on resume, and it must run as it did the first time: a step whose context is
built from the run's artifacts (the developer's prompt shows the files the task changed so far)
would otherwise see its own earlier output, send a different request, miss the ledger's
journal and pay for the model call twice.

So each artifact records the *execution* that wrote it: a key of the step's place in the
workflow (``vitco.workflow.compile`` derives it from LangGraph's task namespace, which is the
same when the same pending step is run again from the same checkpoint). Inside a step,
:meth:`Artifacts.artifacts` leaves out what an earlier run of the same execution wrote, and
the step's first artifact write deletes those rows in the step's own transaction, so the run
keeps one copy: the one its checkpoint refers to.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, Select, bindparam, delete, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.exceptions import NotFound
from vitco.store.models import Artifact, new_id, utcnow
from vitco.store.writes import Write

if TYPE_CHECKING:
    from vitco.observability.redaction import Redactor

_INSERT_ARTIFACT = insert(Artifact)
_DELETE_EARLIER = delete(Artifact).where(
    Artifact.run_id == bindparam("run_id"), Artifact.execution == bindparam("execution")
)


@functools.cache
def _artifacts(by_kind: bool, besides_execution: bool) -> Select[Artifact]:
    """A run's artifacts (``_run_id``), oldest first, of a kind (``_kind``), without those of
    an execution (``_execution``): built once per variant (every report reads them)."""
    q = select(Artifact).where(Artifact.run_id == bindparam("_run_id"))
    if by_kind:
        q = q.where(Artifact.kind == bindparam("_kind"))
    if besides_execution:
        execution: BindParameter[str] = bindparam("_execution")
        q = q.where(or_(Artifact.execution.is_(None), Artifact.execution != execution))
    return q.order_by(Artifact.created_at)


class Artifacts:
    """The artifacts part of ``Store`` (which sets ``sessions``, ``redactor`` and ``_local``
    and holds a step's writes)."""

    sessions: sessionmaker[Session]
    redactor: Redactor | None
    _local: threading.local

    def _pending(self) -> list[Write] | None:
        raise NotImplementedError

    def _hold(self, write: Write) -> None:
        raise NotImplementedError

    def _execution(self) -> str | None:
        """The execution key of this thread's step, if it is in one that has a key."""
        if self._pending() is None:
            return None
        execution: str | None = self._local.__dict__.get("execution")
        return execution

    def put_artifact(
        self,
        run_id: str,
        kind: str,
        content: dict[str, Any],
        *,
        task: str | None = None,
        attempt: int | None = None,
    ) -> str:
        if self.redactor is not None:  # known values only: this is code and model output
            content = self.redactor.value(content, shapes=False)
        execution = self._execution()
        values = {
            "id": new_id("a"),
            "run_id": run_id,
            "kind": kind,
            "content": content,
            "task": task,
            "attempt": attempt,
            "created_at": utcnow(),
            "execution": execution,
        }
        if self._pending() is not None:  # read back before the step ends
            held = self._local.__dict__.setdefault("held", {})
            if execution is not None and not held:  # the step's first: replace an earlier run's
                params = {"run_id": run_id, "execution": execution}
                self._hold(Write(_DELETE_EARLIER, params, run=run_id))
            held[values["id"]] = values
        self._hold(Write(_INSERT_ARTIFACT, values, run=run_id))
        return str(values["id"])

    def get_artifact(self, artifact_id: str) -> dict[str, Any]:
        held: dict[str, dict[str, Any]] = self._local.__dict__.get("held", {})
        if self._pending() is not None and artifact_id in held:
            content: dict[str, Any] = held[artifact_id]["content"]
            return content  # written in this step, not yet on disk
        with self.sessions() as s:
            row = s.get(Artifact, artifact_id)
            if row is None:
                raise NotFound("artifact", artifact_id)
            return row.content

    def artifacts(self, run_id: str, kind: str | None = None) -> list[Artifact]:
        """The run's artifacts, oldest first; inside a step, with what the step wrote so far
        and without what an earlier, unfinished run of the same step wrote."""
        execution = self._execution()
        params = {"_run_id": run_id, "_kind": kind, "_execution": execution}
        with self.sessions() as s:
            stored = list(s.scalars(_artifacts(bool(kind), execution is not None), params))
        if self._pending() is not None:  # this step's own, not yet on disk
            held: dict[str, dict[str, Any]] = self._local.__dict__.get("held", {})
            known = {a.id for a in stored}
            stored += [
                Artifact(**v)
                for v in held.values()
                if v["run_id"] == run_id
                and v["id"] not in known
                and (kind is None or v["kind"] == kind)
            ]
        return stored
