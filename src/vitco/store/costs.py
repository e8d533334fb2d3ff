"""Reading the cost ledger: a run's or project's calls, a project's spend, totals by group."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from vitco.store.models import ModelCall, Project


@functools.cache
def _calls(by_run: bool, by_project: bool) -> Select[ModelCall]:
    """The ledger's rows of a run and/or a project (``_run_id``, ``_project_id``), oldest
    first: built once per kind (a run's report reads them)."""
    q = select(ModelCall).order_by(ModelCall.id)
    if by_run:
        q = q.where(ModelCall.run_id == bindparam("_run_id"))
    if by_project:
        q = q.where(ModelCall.project_id == bindparam("_project_id"))
    return q


class CostQueries:
    """The ledger's reads of ``Store`` (which sets ``sessions``)."""

    sessions: sessionmaker[Session]

    def calls(self, *, run_id: str | None = None, project_id: str | None = None) -> list[ModelCall]:
        params = {"_run_id": run_id, "_project_id": project_id}
        with self.sessions() as s:
            return list(s.scalars(_calls(bool(run_id), bool(project_id)), params))

    def spent_usd(self, project_id: str) -> float:
        with self.sessions() as s:
            total = s.scalar(
                select(func.coalesce(func.sum(ModelCall.cost_usd), 0.0)).where(
                    ModelCall.project_id == project_id
                )
            )
            return float(total or 0.0)

    COST_GROUPS = ("project", "run", "role", "tier", "model", "day")

    def cost_breakdown(
        self,
        *,
        by: str = "role",
        project_id: str | None = None,
        run_id: str | None = None,
        tenant_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Ledger totals grouped by one of :attr:`COST_GROUPS`, optionally for one project,
        one run or one tenant's projects.

        Each row: ``key``, ``calls``, ``input_tokens``, ``output_tokens``, ``usd``,
        ``cache_hits``, ``retries``, ``model_s``; ordered by key.
        """
        columns = {
            "project": ModelCall.project_id,
            "run": ModelCall.run_id,
            "role": ModelCall.role,
            "tier": func.coalesce(ModelCall.tier, "default"),
            "model": ModelCall.model,
            "day": func.date(ModelCall.created_at),
        }
        if by not in columns:
            raise ValueError(f"cannot group costs by {by!r}; use one of {self.COST_GROUPS}")
        group = columns[by]
        q = (
            select(
                group.label("key"),
                func.count(ModelCall.id),
                func.coalesce(func.sum(ModelCall.input_tokens), 0),
                func.coalesce(func.sum(ModelCall.output_tokens), 0),
                func.coalesce(func.sum(ModelCall.cost_usd), 0.0),
                func.coalesce(func.sum(case((ModelCall.cache_hit, 1), else_=0)), 0),
                func.coalesce(func.sum(ModelCall.retries), 0),
                func.coalesce(func.sum(ModelCall.latency_s), 0.0),
            )
            .group_by(group)
            .order_by(group)
        )
        if project_id:
            q = q.where(ModelCall.project_id == project_id)
        if run_id:
            q = q.where(ModelCall.run_id == run_id)
        if tenant_id:
            q = q.join(Project, Project.id == ModelCall.project_id).where(
                Project.tenant_id == tenant_id
            )
        names = ("calls", "input_tokens", "output_tokens", "usd", "cache_hits", "retries")
        with self.sessions() as s:
            rows = []
            for key, *values, model_s in s.execute(q):
                row: dict[str, Any] = {"key": str(key)}
                row |= {n: v for n, v in zip(names, values, strict=True)}
                row["usd"] = float(row["usd"])
                row["model_s"] = float(model_s)
                rows.append(row)
            return rows
