"""`vitco models list | check`: which models vitco would use, at what price, and are they up.

``list`` reads the configuration (``vitco.toml`` or the environment) and the breakers' shared
state; it calls nothing. ``check`` sends one tiny typed request to each configured provider
(its cheapest model) and reports the round-trip time or the exact error, without retries, so
a wrong key or an unknown model name shows up before a run depends on it.

Every command that resolves models takes ``--config FILE`` (``ConfigOpt``) and builds its
settings with ``model_settings``: a ``./vitco.toml`` is never read (the directory may be a
repository a model wrote; see :mod:`vitco.llm.config`), and the user is told it was ignored.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from vitco.cli.output import console, emit_json, err_console, known_errors, load_settings

if TYPE_CHECKING:
    from vitco.config import Settings
    from vitco.llm.config import ModelConfig
    from vitco.llm.model import ModelRequest
    from vitco.llm.modes import ModeMemory

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Model configuration (vitco.toml) to use. Default: VITCO_CONFIG_FILE, else "
        "<data dir>/vitco.toml; a vitco.toml in the working directory is never read.",
    ),
]


def model_settings(as_json: bool, config: Path | None = None) -> Settings:
    """Settings for a command that resolves models: ``--config FILE`` (when given) becomes
    ``Settings.config_file``; a named file that is missing ends the command naming it; a
    ``./vitco.toml`` that is not the file in use gets a notice on stderr."""
    from vitco.llm.exceptions import ModelConfigError

    if config is not None:
        with known_errors(as_json):
            if not config.expanduser().is_file():
                problem = "not a file" if config.expanduser().exists() else "no such file"
                raise ModelConfigError(str(config), "", f"{problem} (named by --config)")
    settings = load_settings(as_json, config_file=config)
    _say_if_ignored(settings)
    return settings


def _say_if_ignored(settings: Settings) -> None:
    from vitco.llm.config import CONFIG_NAME, config_path

    try:
        local = Path.cwd() / CONFIG_NAME
        if not local.is_file():
            return
        used = config_path(settings)
        if used is not None and used.is_file() and used.resolve() == local.resolve():
            return
    except OSError:  # a working directory that is gone has no vitco.toml to explain
        return
    err_console.print(
        f"notice: ./{CONFIG_NAME} is ignored; vitco reads model configuration only from "
        f"--config, VITCO_CONFIG_FILE or {settings.home / CONFIG_NAME} (a directory, such as "
        f"a repository vitco delivered, is not trusted to choose where API keys go). "
        f"To use it: --config ./{CONFIG_NAME}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@cache
def ping() -> ModelRequest:
    """The health-check request ``models check`` sends (built once, on first use)."""
    from vitco.llm.model import CallKey, Message, ModelRequest

    return ModelRequest(
        key=CallKey(role="vitco", step="check"),
        messages=(
            Message(role="system", content='This is a health check. Answer with {"ok": true}.'),
            Message(role="user", content="ping"),
        ),
        output_name="Ping",
        output_schema={
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"],
            "additionalProperties": False,
        },
        max_tokens=64,
    )


def _per_mtok(model_id: str, config: ModelConfig) -> dict[str, Any]:
    """USD per million tokens (priced on 1,000 tokens: long-context surcharges stay out)."""
    from vitco.llm.model import Usage
    from vitco.llm.pricing import cost_usd

    into = cost_usd(Usage(input_tokens=1000), model_id, config.prices)
    out = cost_usd(Usage(output_tokens=1000), model_id, config.prices)
    return {
        "input": round(into.usd * 1000, 4) if into.known else None,
        "output": round(out.usd * 1000, 4) if out.known else None,
        "source": into.source,
    }


def describe(settings: Settings, config: ModelConfig) -> dict[str, Any]:
    """Everything ``models list`` shows, as JSON-ready data."""
    from vitco.llm.breaker import BreakerBoard
    from vitco.llm.model import TIERS
    from vitco.llm.resolve import breaker_store

    board = BreakerBoard(config.breaker, store=breaker_store(settings))
    tiers: dict[str, Any] = {}
    for tier in reversed(TIERS):
        rows = []
        for model_id in config.chains.get(tier, ()):
            provider = config.provider_of(model_id).name
            status = board.status(provider)
            rows.append(
                {
                    "model": model_id,
                    "provider": provider,
                    "price_per_mtok": (price := _per_mtok(model_id, config)),
                    "priced": price["input"] is not None,
                    "breaker": {
                        "state": status.state,
                        "failures": status.failures,
                        "retry_in_s": status.retry_in_s,
                        "last_error": status.last_error,
                    },
                }
            )
        tiers[tier] = {"borrowed_from": config.borrowed.get(tier), "models": rows}
    unpriced = sorted(
        {row["model"] for entry in tiers.values() for row in entry["models"] if not row["priced"]}
    )
    providers = {
        name: {
            "kind": p.kind,
            "base_url": p.base_url,
            "api_key": "set" if p.api_key else ("missing" if p.needs_key else "not needed"),
            "api_key_env": p.api_key_env,
            "timeout_s": p.timeout,
        }
        for name, p in config.providers.items()
    }
    policy = config.policy
    return {
        "config": config.where,
        "pinned_by": "VITCO_MODEL" if _pinned(settings) else None,
        "routing": {
            "premium_at": policy.premium_at,
            "standard_at": policy.standard_at,
            "roles": {r: rule.model_dump(exclude_none=True) for r, rule in policy.roles.items()},
        },
        "tiers": tiers,
        "unpriced": unpriced,
        "allow_unpriced": settings.allow_unpriced,
        "providers": providers,
        "retry": vars(config.retry),
        "breaker": vars(config.breaker),
        "cache_ttl_s": settings.cache_ttl_s,
    }


def _pinned(settings: Settings) -> bool:
    from vitco.llm.resolve import ROUTER_ID

    return bool(settings.model) and settings.model != ROUTER_ID


def _price(price: dict[str, Any]) -> tuple[str, str]:
    if price["input"] is None:
        return "[yellow]unpriced[/]", "[yellow]unpriced[/]"
    return f"{price['input']:g}", f"{price['output']:g}"


def _print_listing(data: dict[str, Any]) -> None:
    routing = data["routing"]
    console.print(
        f"models from [bold]{data['config']}[/]; complexity >= {routing['premium_at']} premium, "
        f">= {routing['standard_at']} standard, else efficient",
        highlight=False,
    )
    if data["pinned_by"]:
        console.print(
            f"{data['pinned_by']} names one model: every call uses it (unset it to route)",
            highlight=False,
        )
    for role, rule in routing["roles"].items():
        console.print(f"  role {role}: {rule}", highlight=False)
    table = Table(title_justify="left")
    for column in ("tier", "#", "model", "provider", "$/Mtok in", "$/Mtok out", "breaker"):
        table.add_column(column, no_wrap=column in ("model", "tier"))
    for tier, entry in data["tiers"].items():
        label = tier + (f" (= {entry['borrowed_from']})" if entry["borrowed_from"] else "")
        for index, row in enumerate(entry["models"], start=1):
            breaker = row["breaker"]
            state = breaker["state"].replace("_", "-")
            if breaker["retry_in_s"]:
                state += f", probe in {breaker['retry_in_s']:.0f}s"
            into, out = _price(row["price_per_mtok"])
            table.add_row(
                label if index == 1 else "",
                str(index),
                row["model"],
                row["provider"],
                into,
                out,
                state,
            )
    console.print(table)
    if data["unpriced"]:
        names = ", ".join(data["unpriced"])
        if data["allow_unpriced"]:
            consequence = "VITCO_ALLOW_UNPRICED is set: a budget cannot limit their spend"
        else:
            consequence = (
                "a run under a budget refuses them; give each a price in vitco.toml "
                '([prices] "provider:model" = { input = ..., output = ... }, USD per million '
                "tokens) or accept the risk with VITCO_ALLOW_UNPRICED=1"
            )
        console.print(
            f"[yellow]no known price:[/] {escape(f'{names}: {consequence}')}",
            highlight=False,
            soft_wrap=True,
        )


def pin(config: ModelConfig, model_id: str | None) -> ModelConfig:
    """``config`` as a run sees it when ``VITCO_MODEL`` names one model: that model on every
    tier (what ``resolve_model`` builds), whether or not providers are configured."""
    from dataclasses import replace

    from vitco.llm.model import TIERS
    from vitco.llm.resolve import ROUTER_ID

    if not model_id or model_id == ROUTER_ID:
        return config
    return replace(config, chains={tier: (model_id,) for tier in TIERS}, borrowed={})


def check_providers(config: ModelConfig, modes: ModeMemory | None = None) -> list[dict[str, Any]]:
    """Ping each provider of the chains once with its cheapest model; never raises.

    An OpenAI-compatible provider starts in the structured-output mode ``modes`` remembers
    for it; a mode its server refuses is followed by the next one (and remembered), and the
    result says which mode worked (``structured``) and which were refused.
    """
    from vitco.llm.exceptions import LLMError, StructuredModeRefused
    from vitco.llm.model import TIERS
    from vitco.llm.resolve import build_route, start_in_remembered_mode
    from vitco.llm.router import MAX_MODE_SWITCHES

    first_model: dict[str, str] = {}
    for tier in TIERS:  # efficient first: the cheapest model of each provider
        for model_id in config.chains.get(tier, ()):
            first_model.setdefault(config.provider_of(model_id).name, model_id)
    results = []
    for provider, model_id in first_model.items():
        started = time.monotonic()
        result: dict[str, Any] = {"provider": provider, "model": model_id}
        refused: list[dict[str, str]] = []
        try:
            route = build_route(config, model_id)
            if modes is not None:
                start_in_remembered_mode(route, modes)
            try:
                for _ in range(MAX_MODE_SWITCHES + 1):
                    try:
                        route.model.request(ping())
                        break
                    except StructuredModeRefused as exc:
                        refused.append({"mode": exc.mode, "error": str(exc)})
                        if exc.fallback is None:
                            raise
                        if modes is not None:
                            modes.remember(route.provider, exc.fallback, str(exc))
            finally:
                close = getattr(route.model, "close", None)
                if callable(close):
                    close()
        except (LLMError, ImportError) as exc:
            result |= {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        else:
            result |= {"ok": True, "latency_s": round(time.monotonic() - started, 3)}
            structured = getattr(route.model, "structured", None)
            if structured is not None:
                result["structured"] = structured
        if refused:
            result["refused"] = refused
        results.append(result)
    return results


def _check_line(r: dict[str, Any]) -> str:
    if not r["ok"]:
        return f"[red]fail[/] {r['provider']:<12} {r['model']}  {r['error']}"
    line = f"[green]ok[/]   {r['provider']:<12} {r['model']}  {r['latency_s'] * 1000:.0f} ms"
    if "structured" in r:
        line += f"  structured output: {r['structured']}"
        if r.get("refused"):
            modes = ", ".join(refusal["mode"] for refusal in r["refused"])
            line += f" (refused: {modes}; remembered for the next runs)"
    return line


def register(app: typer.Typer) -> None:
    models = typer.Typer(
        help="The models vitco routes to: tiers, chains, prices, breakers; check providers.",
        no_args_is_help=True,
    )
    app.add_typer(models, name="models")

    def _config(settings: Settings, as_json: bool, *, pinned: bool = False) -> ModelConfig:
        from vitco.llm.config import load_model_config
        from vitco.llm.exceptions import NoModelConfigured

        with known_errors(as_json):
            config = load_model_config(settings)
            if pinned:
                config = pin(config, settings.model)
            if config.empty:
                raise NoModelConfigured()
        return config

    @models.command("list")
    def list_models(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
        """Show the tier chains, each model's price and its provider's breaker state."""
        settings = model_settings(as_json, config)
        data = describe(settings, _config(settings, as_json, pinned=True))
        if as_json:
            emit_json(data)
        else:
            _print_listing(data)

    @models.command("check")
    def check(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
        """Send one tiny request to each configured provider: latency and the structured-output
        mode that works, or the exact error."""
        from vitco.llm.resolve import mode_memory

        settings = model_settings(as_json, config)
        models_config = _config(settings, as_json)
        with known_errors(as_json):
            memory = mode_memory(settings)
        results = check_providers(models_config, memory)
        if as_json:
            emit_json({"providers": results})
        else:
            for r in results:
                console.print(_check_line(r), highlight=False)
        if not all(r["ok"] for r in results):
            raise typer.Exit(1)
