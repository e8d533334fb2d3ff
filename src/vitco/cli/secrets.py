"""`vitco secrets set | list | delete | rotate`: tenants' secrets at rest (integration tokens;
webhook secrets are listed too), sealed with AES-256-GCM (``vitco.secrets``).

A value is never taken from the command line (shell history, ``ps``): ``set`` reads it from
standard input, or asks for it without echo on a terminal; ``list`` never prints values.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vitco.cli.output import console, emit_json, fail, known_errors, load_settings, store_of

if TYPE_CHECKING:
    from vitco.config import Settings
    from vitco.secrets import Vault

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
TenantOpt = Annotated[str, typer.Option("--tenant", help="The tenant's id.")]
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
MAX_VALUE = 64 * 1024


def _vault(settings: Settings, as_json: bool) -> tuple[Any, Vault]:
    from vitco.bootstrap import build_vault

    with known_errors(as_json):
        store = store_of(settings)
    return store, build_vault(settings, store.sessions)


def _read_value(as_json: bool) -> str:
    if sys.stdin.isatty():
        value: str = typer.prompt("value", hide_input=True, err=True)
    else:
        value = sys.stdin.read(MAX_VALUE + 2)
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    if not value:
        fail("no value: give it on standard input", as_json=as_json)
    if len(value) > MAX_VALUE:
        fail(f"the value is longer than {MAX_VALUE} characters", as_json=as_json)
    return value


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Tenants' secrets at rest (AES-256-GCM): set, list (never values), rotate."
    )
    app.add_typer(group, name="secrets")

    @group.command("set")
    def set_secret(
        name: Annotated[
            str,
            typer.Argument(metavar="NAME", help="e.g. github_token, gitea_token, stripe_api_key."),
        ],
        tenant: TenantOpt = "default",
        as_json: JsonOpt = False,
    ) -> None:
        """Store a secret, read from standard input (or asked for without echo)."""
        from vitco.store.secrets import TenantSecrets

        if not NAME.fullmatch(name):
            fail(f"secret name {name!r}: use A-Z, a-z, 0-9, _ . - (at most 100)", as_json=as_json)
        settings = load_settings(as_json)
        store, vault = _vault(settings, as_json)
        value = _read_value(as_json)
        with known_errors(as_json):
            if tenant == "default":
                store.ensure_tenant()
            info = TenantSecrets(store.sessions, vault).set(tenant, name, value)
        shown = {"tenant": tenant, "name": name, "scheme": info.scheme,
                 "updated_at": info.updated_at.isoformat()}  # fmt: skip
        if as_json:
            emit_json(shown)
            return
        console.print(f"secret {name} of {tenant} stored (sealed, {info.scheme})", highlight=False)

    @group.command("list")
    def list_secrets(
        tenant: Annotated[
            str | None, typer.Option("--tenant", help="Only this tenant's (default: all).")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List stored secrets: tenant, kind, name, how sealed; never a value."""
        from vitco.store.secrets import TenantSecrets

        store, vault = _vault(load_settings(as_json), as_json)
        with known_errors(as_json):
            rows = TenantSecrets(store.sessions, vault).infos(tenant)
        listed = [
            {"tenant": r.tenant_id, "kind": r.kind, "name": r.name, "scheme": r.scheme,
             "updated_at": r.updated_at.isoformat()}
            for r in rows
        ]  # fmt: skip
        if as_json:
            emit_json({"secrets": listed})
            return
        table = Table(title="secrets", title_justify="left")
        for column in ("tenant", "kind", "name", "scheme", "updated"):
            table.add_column(column)
        for r in listed:
            table.add_row(r["tenant"], r["kind"], r["name"], r["scheme"], r["updated_at"])
        console.print(table)

    @group.command("delete")
    def delete_secret(
        name: Annotated[str, typer.Argument(metavar="NAME")],
        tenant: TenantOpt = "default",
        as_json: JsonOpt = False,
    ) -> None:
        """Forget a secret."""
        from vitco.store.secrets import TenantSecrets

        store, vault = _vault(load_settings(as_json), as_json)
        with known_errors(as_json):
            TenantSecrets(store.sessions, vault).delete(tenant, name)
        if as_json:
            emit_json({"tenant": tenant, "name": name, "deleted": True})
            return
        console.print(f"secret {name} of {tenant} deleted", highlight=False)

    @group.command("rotate")
    def rotate(
        old_key_file: Annotated[
            Path | None,
            typer.Option(
                "--old-key-file",
                help="A file holding the previous master key (base64); default: "
                "VITCO_MASTER_KEY_OLD.",
                dir_okay=False,
                exists=True,
            ),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Re-wrap every tenant's data key with the current master key (VITCO_MASTER_KEY),
        unwrapping with the old one; seal any value still stored in plain text."""
        from pydantic import SecretStr

        settings = load_settings(as_json)
        if old_key_file is not None:
            text = old_key_file.read_text().strip()
            settings = settings.model_copy(update={"master_key_old": SecretStr(text)})
        _, vault = _vault(settings, as_json)
        with known_errors(as_json):
            done = vault.rotate()
        shown = {"master_id": done.master_id, "rewrapped": done.rewrapped,
                 "current": done.current, "resealed": done.resealed}  # fmt: skip
        if as_json:
            emit_json(shown)
            return
        console.print(
            f"master key {done.master_id}: {done.rewrapped} data keys re-wrapped, "
            f"{done.current} already under it, {done.resealed} plain values sealed",
            highlight=False,
        )
