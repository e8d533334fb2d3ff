"""`vitco init [--provider NAME]`: write a commented model configuration file (``vitco.toml``).

The file goes where vitco will read it (``--config FILE``, else ``VITCO_CONFIG_FILE``, else
``<data dir>/vitco.toml``; see docs/configuration.md, which documents every key). On a terminal,
without ``--provider``, it asks which provider to use; without a terminal it never asks and
writes the template with every table commented out. It never overwrites a file unless told
(``--force``) and never writes an API key: it says which variable to export.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vitco.cli.output import console, emit_json, err_console, fail

if TYPE_CHECKING:
    from vitco.llm.providers import ProviderSpec

TIER_NAMES = ("premium", "standard", "efficient")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

HEADER = """\
# vitco.toml: which models vitco uses, in which order, at what price.
# Every key is documented in docs/configuration.md; what this file leaves out keeps its
# default. vitco reads it from --config FILE, else VITCO_CONFIG_FILE, else
# <data dir>/vitco.toml, never from the working directory. API keys never go here: export
# them (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...) or name their variable with api_key_env.
"""

TIERS_NONE = """\
# Without [tiers], the chains come from the providers whose keys are exported.
# [tiers]                       # ordered chains: the router falls back along them
# premium = ["anthropic:claude-opus-5-5", "openai:gpt-4.1"]
# standard = ["anthropic:claude-sonnet-5-5", "openai:gpt-4.1-mini"]
# efficient = ["openai:gpt-4.1-nano", "ollama:llama3.2"]
"""

REST = """\

# A server of your own (vLLM, llama.cpp server, LM Studio...): a prefix for its model ids.
# [providers.box]
# kind = "vllm"                 # openai, anthropic, ollama, openrouter, groq, lmstudio, vllm...
# base_url = "http://gpu-box:8000/v1"
# api_key_env = "BOX_KEY"       # the variable that holds its key
# timeout = 120                 # seconds per request
# stream = false
# structured = "json_schema"    # or "tool", "json_object": how typed answers are asked for

# [prices]                      # USD per million tokens; overrides the bundled price list
# "box:qwen2.5-coder-32b" = { input = 0.2, output = 0.6 }
# "openai:gpt-4.1" = { input = 2.0, output = 8.0, cache_read = 0.5, cache_write = 0.0 }

# [roles]                       # per role: a fixed tier, or bounds on the computed one
# reviewer = "efficient"
# developer = { min_tier = "standard" }
# qa = { max_tier = "standard" }

# [routing]                     # task complexity (1-10) -> tier
# premium_at = 8
# standard_at = 5

# [retry]                       # per model, before falling back to the next one
# attempts = 3
# base_delay_s = 0.5
# max_delay_s = 20
# jitter = 0.5
# max_retry_after_s = 60
# max_output_tokens = 32768    # an answer cut at its limit is asked again, up to this

# [breaker]                     # per provider
# failures = 5
# cooldown_s = 30
"""


def choices() -> dict[str, ProviderSpec]:
    """The providers ``init`` offers: those the registry gives a model per tier."""
    from vitco.llm.providers import PROVIDERS

    return {name: spec for name, spec in PROVIDERS.items() if spec.default_chain}


def render(provider: str | None) -> str:
    """The file's text: ``provider``'s chains (from the registry) or all commented out."""
    if provider is None:
        return HEADER + "\n" + TIERS_NONE + REST
    spec = choices()[provider]
    chain = spec.default_chain or {}
    need = f"export {spec.key_env}=..." if spec.key_env else "no key"
    if spec.url_env:
        need += f"; {spec.url_env} moves its server"
    lines = [
        f"# {spec.summary}: {need}",
        "[tiers]                         # ordered chains: the router falls back along them",
        *(
            f'{tier} = ["{provider}:{chain[tier]}"]'
            for tier in ("premium", "standard", "efficient")
        ),
    ]
    return HEADER + "\n" + "\n".join(lines) + "\n" + REST


def _ask() -> str | None:
    names = list(choices())
    console.print("Which provider should vitco use? " + ", ".join(names) + ", or none.")
    while True:
        answer = str(typer.prompt("provider", default="none")).strip().lower()
        if answer == "none":
            return None
        if answer in names:
            return answer
        err_console.print(f"{answer!r} is not one of: {', '.join(names)}, none", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        provider: Annotated[
            str | None,
            typer.Option(
                "--provider",
                metavar="NAME",
                help="Fill the tier chains for this provider (openai, anthropic, ollama, "
                "openrouter, groq); 'none' leaves them commented out. Asked on a terminal.",
            ),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(
                "--config",
                metavar="FILE",
                help="Write this file. Default: VITCO_CONFIG_FILE, else <data dir>/vitco.toml.",
            ),
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite the file.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Write a commented model configuration file (vitco.toml); docs/configuration.md."""
        from vitco.config import Settings

        target = Settings.config_target(config)
        if provider is not None and provider.lower() != "none" and provider not in choices():
            fail(
                f"unknown provider {provider!r}",
                as_json=as_json,
                hint=f"one of: {', '.join(choices())}, none",
                code="usage",
            )
        if target.exists() and not force:
            fail(
                f"{target} exists; vitco init does not overwrite it",
                as_json=as_json,
                hint="edit it (docs/configuration.md), or vitco init --force to start over",
            )
        if provider is None and not as_json and sys.stdin.isatty():
            provider = _ask()
        chosen = None if provider is None or provider.lower() == "none" else provider
        _write(target, render(chosen))
        if as_json:
            emit_json({"path": str(target), "provider": chosen})
            return
        console.print(f"wrote {target}", highlight=False)
        spec = choices().get(chosen or "")
        if spec is not None and spec.key_env:
            console.print(f"next: export {spec.key_env}=..., then vitco doctor", highlight=False)
        else:
            console.print("next: vitco models list, then vitco doctor", highlight=False)


def _write(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` at once (a temporary file renamed into place)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
