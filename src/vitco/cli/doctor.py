"""`vitco doctor`: can vitco work here, and if not, what to fix.

It checks, in order: the configuration (the settings and the model configuration load, and
some model is configured); each provider of the model chains (its server answers a short
HTTP request, and does not refuse the key: no model is called, nothing is paid); the database
(it opens, and its schema is current or will be migrated); Redis, when configured (it
answers); and the sandbox (:func:`vitco.sandbox.diagnose.diagnose`). Every finding names what
was seen and, when something is wrong, the fix. Exit 1 when a check fails; a warning (no model
configured, the unsafe sandbox) does not fail.

Network checks take a few seconds at most (``TIMEOUT_S``); the HTTP client and the settings
are built here, in the command, and passed to the check functions.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import httpx

    from vitco.config import Settings
    from vitco.llm.config import ModelConfig, ProviderSetup
    from vitco.sandbox.diagnose import Finding

TIMEOUT_S = 3.0
IN_PROCESS = frozenset({"replay", "replay+strict", "test", "llamacpp"})
"""Model kinds that reach no server."""

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def check_config(settings: Settings) -> tuple[list[Finding], ModelConfig | None]:
    """The model configuration as a run would see it (``VITCO_MODEL`` pins every tier)."""
    from vitco.cli.models import pin
    from vitco.llm.config import load_model_config
    from vitco.llm.exceptions import LLMError
    from vitco.sandbox.diagnose import Finding

    where = str(settings.models_file) if settings.models_file else "none (the environment's)"
    findings = [Finding("settings", "ok", f"data dir {settings.home}; model file {where}")]
    try:
        config = pin(load_model_config(settings), settings.model)
    except LLMError as exc:
        findings.append(Finding("models", "fail", str(exc), getattr(exc, "fix", "") or ""))
        return findings, None
    if config.empty:
        findings.append(
            Finding(
                "models",
                "warn",
                "no model is configured: only vitco demo and replays can run",
                "vitco init (then export the key it names), or export OPENAI_API_KEY / "
                "ANTHROPIC_API_KEY / OLLAMA_HOST, or set VITCO_MODEL",
            )
        )
        return findings, config
    models = sorted({m for chain in config.chains.values() for m in chain})
    pinned = f"VITCO_MODEL={settings.model}; " if settings.model else ""
    findings.append(Finding("models", "ok", f"{pinned}{len(models)} in the chains"))
    return findings, config


def server_url(setup: ProviderSetup) -> str | None:
    """Where a provider is reached, as its model would reach it."""
    from vitco.llm.providers import PROVIDERS, ollama_base_url
    from vitco.llm.providers.anthropic import DEFAULT_ANTHROPIC_BASE_URL

    if setup.kind == "ollama":
        return ollama_base_url(setup.base_url)
    if setup.base_url:
        return setup.base_url
    if setup.kind == "anthropic":
        return f"{DEFAULT_ANTHROPIC_BASE_URL}/v1"
    spec = PROVIDERS.get(setup.kind)
    return spec.default_base_url if spec is not None else None


def check_providers(config: ModelConfig, http: httpx.Client) -> list[Finding]:
    """Each provider of the chains: a key where one is needed, and a server that answers
    ``GET <url>/models`` without refusing the key (any other answer counts as reachable)."""
    import httpx

    from vitco.sandbox.diagnose import Finding

    setups: dict[str, ProviderSetup] = {}
    for chain in config.chains.values():
        for model_id in chain:
            setup = config.provider_of(model_id)
            if setup.kind not in IN_PROCESS:
                setups.setdefault(setup.name, setup)
    findings = []
    for name, setup in setups.items():
        check = f"provider {name}"
        if setup.needs_key and not setup.api_key:
            fix = f"export {setup.api_key_env}=..." if setup.api_key_env else "set its key"
            findings.append(Finding(check, "fail", "no API key", fix))
            continue
        url = server_url(setup)
        if url is None:
            findings.append(Finding(check, "fail", "no URL", f"set base_url in [providers.{name}]"))
            continue
        headers = {}
        if setup.api_key:
            if setup.kind == "anthropic":
                headers = {"x-api-key": setup.api_key, "anthropic-version": "2023-06-01"}
            else:
                headers = {"authorization": f"Bearer {setup.api_key}"}
        began = time.monotonic()
        try:
            answer = http.get(f"{url.rstrip('/')}/models", headers=headers)
        except httpx.HTTPError as exc:
            findings.append(
                Finding(
                    check,
                    "fail",
                    f"{url} does not answer ({type(exc).__name__}: {exc})",
                    "check the URL (base_url in vitco.toml, or the provider's URL variable), "
                    "that the server runs, and the network",
                )
            )
            continue
        ms = (time.monotonic() - began) * 1000
        if answer.status_code in (401, 403):
            findings.append(
                Finding(
                    check,
                    "fail",
                    f"{url} refused the key (HTTP {answer.status_code})",
                    f"check {setup.api_key_env or 'its key'}",
                )
            )
        else:
            findings.append(
                Finding(check, "ok", f"{url} answers (HTTP {answer.status_code}, {ms:.0f} ms)")
            )
    return findings


DATABASE_WAIT_S = 2.0
"""How long the check waits for a database server that refuses connections."""


def check_database(settings: Settings) -> Finding:
    """The database opens, and its schema is current (or will be migrated on first use)."""
    from sqlalchemy import make_url

    from vitco.sandbox.diagnose import Finding
    from vitco.store.db import connect_wait, open_engine, schema_revision

    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    try:
        settings.ensure_dirs()
        with connect_wait(DATABASE_WAIT_S):  # not the minute a running step would wait
            revision = schema_revision(open_engine(settings.resolved_database_url))
    except Exception as exc:  # any driver's error: shown, with the fix
        return Finding(
            "database",
            "fail",
            f"{shown}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
            "check VITCO_DATABASE_URL and that the server runs and accepts this user",
        )
    if revision.at_head:
        return Finding("database", "ok", f"{shown} at {revision.head}")
    state = f"at {revision.current}" if revision.current else "empty"
    if settings.auto_migrate:
        return Finding("database", "ok", f"{shown} {state}; migrated to {revision.head} on use")
    return Finding("database", "fail", f"{shown} {state}, not {revision.head}", "vitco db upgrade")


def check_redis(settings: Settings) -> Finding:
    from vitco.sandbox.diagnose import Finding

    if not settings.redis_url:
        return Finding("redis", "ok", "not configured: cache and breakers are in the database")
    try:
        import redis
    except ImportError:
        return Finding("redis", "fail", "redis-py is missing", "pip install 'vitco[redis]'")
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return Finding(
            "redis",
            "fail",
            f"{_hide(settings.redis_url)}: {exc}",
            "check VITCO_REDIS_URL and that the server runs (or unset it for one host)",
        )
    finally:
        client.close()
    return Finding("redis", "ok", f"{_hide(settings.redis_url)} answers")


def _hide(url: str) -> str:
    """A URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="vitco doctor", title_justify="left", show_lines=False)
    for column in ("area", "check", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for r in rows:
        status = f"[{_STYLE[r['status']]}]{r['status']}[/]"
        table.add_row(r["area"], r["name"], status, r["detail"], r["fix"])
    return table


def register(app: typer.Typer) -> None:
    """Add the doctor command to the app."""

    @app.command()
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Check that vitco can work here: configuration, providers, database, Redis, sandbox.

        Says what to fix; exits 1 when a check fails.
        """
        import httpx

        from vitco.cli.output import load_settings
        from vitco.sandbox.diagnose import diagnose

        settings = load_settings(as_json)  # a bad variable or file: named, exit 1
        config_findings, config = check_config(settings)
        areas: list[tuple[str, list[Finding]]] = [("configuration", config_findings)]
        if config is not None:
            with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as http:
                areas.append(("providers", check_providers(config, http)))
        areas += [
            ("database", [check_database(settings)]),
            ("redis", [check_redis(settings)]),
            ("sandbox", diagnose(settings)),
        ]
        rows = [{"area": area} | f.to_dict() for area, found in areas for f in found]
        ok = all(r["status"] != "fail" for r in rows)
        if as_json:
            typer.echo(
                json.dumps({"ok": ok, "sandbox": settings.sandbox, "checks": rows}, indent=2)
            )
        else:
            console = Console()
            console.print(_table(rows))
            if ok:
                console.print("[green]vitco can work here.[/]")
            else:
                console.print("[bold red]Some checks failed; see the fixes above.[/]")
        if not ok:
            raise typer.Exit(1)
