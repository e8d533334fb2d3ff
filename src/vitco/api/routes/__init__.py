"""One router per resource; ``ROUTERS`` is every one of them, in the order the app mounts."""

from __future__ import annotations

from fastapi import APIRouter

from vitco.api.routes import (
    artifacts,
    audit,
    budgets,
    commits,
    costs,
    deployments,
    events,
    forks,
    keys,
    me,
    projects,
    runs,
    users,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = (
    me.router,
    projects.router,
    runs.router,
    forks.router,
    artifacts.router,
    commits.router,
    budgets.router,
    events.router,
    costs.router,
    deployments.router,
    keys.router,
    users.router,
    audit.router,
    webhooks.router,
)

__all__ = ["ROUTERS"]
