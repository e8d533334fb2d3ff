"""Who may call what: the permission matrix, role x endpoint, as data.

``vitco.api.deps.authorize`` (the one dependency every endpoint takes) looks the request's
endpoint up here; an endpoint missing from the matrix is refused to everyone, and the app
factory refuses to build an app whose routes and matrix differ. ``docs/api.md`` shows this
table (``tests/api/test_permissions.py`` keeps the two equal).

The roles, from most to least:

- ``admin``: everything in the tenant, including API keys, users, the audit log, webhook
  secrets and subscriptions (they send the tenant's data out);
- ``manager``: runs the work: projects, runs (start, cancel, resume, fork, gates), budgets,
  deployments (stop), reads users and webhooks in and out;
- ``client``: the customer: submits briefs (creates projects), answers approval gates, reads
  (also its apps' logs);
- ``viewer``: reads projects, runs, tasks, events, artifacts, costs, budgets and deployments.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["admin", "manager", "client", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "manager", "client", "viewer")

_ALL: frozenset[Role] = frozenset(ROLES)
_WORK: frozenset[Role] = frozenset({"admin", "manager"})
_CLIENT: frozenset[Role] = frozenset({"admin", "manager", "client"})
_ADMIN: frozenset[Role] = frozenset({"admin"})

MATRIX: dict[str, frozenset[Role]] = {
    "GET /v1/me": _ALL,
    "GET /v1/projects": _ALL,
    "POST /v1/projects": _CLIENT,
    "GET /v1/projects/{project_id}": _ALL,
    "POST /v1/projects/{project_id}/archive": _WORK,
    "POST /v1/projects/{project_id}/runs": _WORK,
    "GET /v1/runs": _ALL,
    "GET /v1/runs/{run_id}": _ALL,
    "POST /v1/runs/{run_id}/cancel": _WORK,
    "POST /v1/runs/{run_id}/resume": _WORK,
    "POST /v1/runs/{run_id}/approve": _CLIENT,
    "POST /v1/runs/{run_id}/reject": _CLIENT,
    "GET /v1/runs/{run_id}/history": _ALL,
    "GET /v1/runs/{run_id}/tasks": _ALL,
    "GET /v1/runs/{run_id}/events": _ALL,
    "POST /v1/runs/{run_id}/fork": _WORK,
    "GET /v1/runs/{run_id}/report": _ALL,
    "GET /v1/runs/{run_id}/artifacts": _ALL,
    "GET /v1/runs/{run_id}/repo": _ALL,
    "GET /v1/runs/{run_id}/mail": _ALL,
    "GET /v1/runs/{run_id}/mails": _ALL,
    "GET /v1/runs/{run_id}/mails/{n}": _ALL,
    "GET /v1/runs/{run_id}/logs": _ALL,
    "GET /v1/runs/{run_id}/commits": _ALL,
    "GET /v1/events": _ALL,
    "GET /v1/costs": _ALL,
    "GET /v1/projects/{project_id}/budget": _ALL,
    "PUT /v1/projects/{project_id}/budget": _WORK,
    "DELETE /v1/projects/{project_id}/budget": _WORK,
    "GET /v1/deployments": _ALL,
    "GET /v1/deployments/{deployment_id}": _ALL,
    "GET /v1/deployments/{deployment_id}/logs": _CLIENT,
    "POST /v1/deployments/{deployment_id}/stop": _WORK,
    "GET /v1/keys": _ADMIN,
    "POST /v1/keys": _ADMIN,
    "DELETE /v1/keys/{key_id}": _ADMIN,
    "GET /v1/users": _WORK,
    "POST /v1/users": _ADMIN,
    "GET /v1/users/{user_id}": _WORK,
    "GET /v1/audit": _ADMIN,
    "GET /v1/hooks": _WORK,
    "PUT /v1/hooks/{source}/secret": _ADMIN,
    "DELETE /v1/hooks/{source}/secret": _ADMIN,
    "GET /v1/hooks/deliveries": _WORK,
    "POST /v1/webhooks": _ADMIN,
    "GET /v1/webhooks": _WORK,
    "GET /v1/webhooks/{webhook_id}": _WORK,
    "GET /v1/webhooks/{webhook_id}/deliveries": _WORK,
    "DELETE /v1/webhooks/{webhook_id}": _ADMIN,
}
"""``"METHOD /path/{param}"`` -> the roles that may call it."""


def endpoint(method: str, path: str) -> str:
    """The matrix key of a route: ``"GET /v1/runs/{run_id}"``."""
    return f"{method.upper()} {path}"


def allowed(role: str, key: str) -> bool:
    return role in MATRIX.get(key, frozenset())


def markdown() -> str:
    """The matrix as the Markdown table docs/api.md shows."""
    lines = ["| endpoint | " + " | ".join(ROLES) + " |", "|---|" + "---|" * len(ROLES)]
    for key, roles in MATRIX.items():
        marks = " | ".join("yes" if role in roles else "-" for role in ROLES)
        lines.append(f"| `{key}` | {marks} |")
    return "\n".join(lines) + "\n"
