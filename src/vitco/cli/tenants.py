"""`vitco tenants create | list` and `vitco keys create | list | revoke`: bootstrapping the
API's tenants and keys from the host (the API manages keys too, for an admin key)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from vitco.cli.output import console, emit_json, fail, known_errors, load_settings, store_of

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="The tenant's id.")]
ROLES = ("admin", "manager", "client", "viewer")


def _access(as_json: bool) -> Any:
    from vitco.store import AccessStore

    with known_errors(as_json):
        return AccessStore(store_of(load_settings(as_json)).sessions)


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def register(app: typer.Typer) -> None:
    tenants = typer.Typer(help="Tenants of the API: each sees only its own projects and runs.")
    keys = typer.Typer(help="API keys: shown once when made, stored only as a hash.")
    app.add_typer(tenants, name="tenants")
    app.add_typer(keys, name="keys")

    @tenants.command("create")
    def create_tenant(
        tenant_id: Annotated[str, typer.Argument(metavar="ID", help="Short id: a-z, 0-9, -.")],
        name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Create a tenant; then give it a key with vitco keys create --tenant ID."""
        import re

        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", tenant_id):
            fail(f"tenant id {tenant_id!r}: use a-z, 0-9 and - (at most 64)", as_json=as_json)
        access = _access(as_json)
        with known_errors(as_json):
            tenant = access.create_tenant(tenant_id, name or tenant_id)
        if as_json:
            emit_json({"id": tenant.id, "name": tenant.name})
            return
        console.print(f"tenant {tenant.id} created", highlight=False)
        console.print(f"next: vitco keys create --tenant {tenant.id} --role admin", highlight=False)

    @tenants.command("list")
    def list_tenants(as_json: JsonOpt = False) -> None:
        """List the tenants."""
        rows = [{"id": t.id, "name": t.name} for t in _access(as_json).tenants()]
        if as_json:
            emit_json({"tenants": rows})
            return
        for row in rows:
            console.print(f"{row['id']}  {row['name']}", highlight=False)

    @keys.command("create")
    def create_key(
        tenant: TenantOpt,
        role: Annotated[str, typer.Option("--role", help="admin, manager, client or viewer.")],
        name: Annotated[str, typer.Option("--name", help="What the key is for.")] = "",
        days: Annotated[
            float | None, typer.Option("--days", min=0.001, help="Expire after this many days.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Make an API key; it is printed this once (only its hash is kept)."""
        from vitco.api.keys import issue
        from vitco.store.models import utcnow

        if role not in ROLES:
            fail(f"role {role!r}: use one of {', '.join(ROLES)}", as_json=as_json)
        access = _access(as_json)
        with known_errors(as_json):
            access.get_tenant(tenant)
            expires = utcnow() + timedelta(days=days) if days else None
            row, key = issue(access, tenant, role, name=name, expires_at=expires)
        shown = {
            "id": row.id, "tenant": tenant, "role": role, "prefix": row.prefix,
            "expires_at": _when(row.expires_at), "key": key,
        }  # fmt: skip
        if as_json:
            emit_json(shown)
            return
        console.print(f"key {row.id} ({role} of {tenant}); it is shown this once:", highlight=False)
        print(key)

    @keys.command("list")
    def list_keys(tenant: TenantOpt, as_json: JsonOpt = False) -> None:
        """List a tenant's keys (never the keys themselves)."""
        access = _access(as_json)
        with known_errors(as_json):
            access.get_tenant(tenant)
            rows = access.keys(tenant, limit=200).items
        listed = [
            {
                "id": k.id, "prefix": k.prefix, "role": k.role, "name": k.name,
                "expires_at": _when(k.expires_at), "last_used_at": _when(k.last_used_at),
                "revoked_at": _when(k.revoked_at),
            }
            for k in rows
        ]  # fmt: skip
        if as_json:
            emit_json({"tenant": tenant, "keys": listed})
            return
        table = Table(title=f"keys of {tenant}", title_justify="left")
        for column in ("id", "prefix", "role", "name", "last used", "revoked"):
            table.add_column(column, no_wrap=column in ("id", "prefix"))
        for k in listed:
            table.add_row(
                k["id"], k["prefix"], k["role"], k["name"], k["last_used_at"] or "-",
                k["revoked_at"] or "-",
            )  # fmt: skip
        console.print(table)

    @keys.command("revoke")
    def revoke_key(
        key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (k-...).")],
        tenant: TenantOpt,
        as_json: JsonOpt = False,
    ) -> None:
        """Revoke a key: the API refuses it from the next request on."""
        access = _access(as_json)
        with known_errors(as_json):
            row = access.revoke_key(tenant, key_id)
        if as_json:
            emit_json({"id": row.id, "revoked_at": _when(row.revoked_at)})
            return
        console.print(f"key {row.id} revoked", highlight=False)
