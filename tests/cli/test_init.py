"""`vitco init` writes a commented vitco.toml that vitco reads; the format is in the docs."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner, Result

from vitco.cli.app import app
from vitco.cli.init import render
from vitco.config import Settings
from vitco.llm.config_schema import ModelSettings, parse_model_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def vitco(home: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"VITCO_HOME": str(home), **env})


def listing(home: Path, **env: str) -> dict[str, list[str]]:
    result = vitco(home, "models", "list", "--json", **env)
    assert result.exit_code == 0, result.output
    tiers = json.loads(result.stdout)["tiers"]
    return {tier: [m["model"] for m in entry["models"]] for tier, entry in tiers.items()}


def test_without_a_terminal_it_writes_the_commented_template_and_never_asks(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-m", "vitco.cli", "init"],
        stdin=subprocess.PIPE,  # open and silent: a prompt would wait here until the timeout
        capture_output=True, text=True, timeout=120, check=False,
        env=os.environ | {"VITCO_HOME": str(home)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    target = home / "vitco.toml"
    assert f"wrote {target}" in proc.stdout and "provider" not in proc.stdout.split("\n")[0]
    text = target.read_text(encoding="utf-8")
    assert tomllib.loads(text) == {}  # every table commented out
    assert "docs/configuration.md" in text
    assert Settings(home=home).models == ModelSettings()  # vitco reads it, and it says nothing
    # with a key exported, the environment's chains apply as before
    assert listing(home, OPENAI_API_KEY="sk-x")["premium"] == ["openai:gpt-4.1"]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "ollama", "openrouter", "groq"])
def test_a_provider_fills_the_chains_and_no_key_is_written(tmp_path: Path, provider: str) -> None:
    home = tmp_path / "home"
    key = "sk-secret-0123456789"
    result = vitco(home, "init", "--provider", provider, "--json", OPENAI_API_KEY=key)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"path": str(home / "vitco.toml"), "provider": provider}
    text = (home / "vitco.toml").read_text(encoding="utf-8")
    assert key not in text
    chains = listing(home)
    assert all(len(chain) == 1 and chain[0].startswith(f"{provider}:") for chain in chains.values())


def test_it_never_overwrites_unless_forced(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert vitco(home, "init", "--provider", "openai").exit_code == 0
    (home / "vitco.toml").write_text("[tiers\n", encoding="utf-8")  # broken: loads fail
    again = vitco(home, "init", "--json")
    assert again.exit_code == 1
    error = json.loads(again.stdout)
    assert "exists" in error["error"] and "--force" in error["hint"]
    assert (home / "vitco.toml").read_text(encoding="utf-8") == "[tiers\n"
    forced = vitco(home, "init", "--provider", "groq", "--force")
    assert forced.exit_code == 0, forced.output
    assert listing(home)["efficient"] == ["groq:llama-3.1-8b-instant"]


def test_it_writes_where_vitco_reads(tmp_path: Path) -> None:
    named = tmp_path / "conf" / "mine.toml"
    result = vitco(
        tmp_path / "home", "init", "--provider", "anthropic", VITCO_CONFIG_FILE=str(named)
    )
    assert result.exit_code == 0, result.output
    assert named.is_file() and not (tmp_path / "home" / "vitco.toml").exists()
    explicit = tmp_path / "other.toml"
    assert vitco(tmp_path / "home", "init", "--config", str(explicit)).exit_code == 0
    assert explicit.is_file()


def test_an_unknown_provider_is_a_usage_error(tmp_path: Path) -> None:
    result = vitco(tmp_path / "home", "init", "--provider", "acme", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["code"] == "usage" and "'acme'" in error["error"] and "openai" in error["hint"]
    assert not (tmp_path / "home" / "vitco.toml").exists()


def test_on_a_terminal_it_asks_for_the_provider(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pid, fd = pty.fork()
    if pid == 0:  # the child: vitco init on a terminal
        os.environ["VITCO_HOME"] = str(home)
        os.execv(sys.executable, [sys.executable, "-m", "vitco.cli", "init"])
    output = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"provider" in output and b"none" in output:
            os.write(fd, b"not-one\n")
            time.sleep(0.2)
            os.write(fd, b"anthropic\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Which provider should vitco use?" in text and "'not-one' is not one of" in text
    assert "export ANTHROPIC_API_KEY=" in text
    assert listing(home)["premium"] == ["anthropic:claude-opus-5-5"]


# the format lives in the docs --------------------------------------------------------------


def test_the_docs_example_is_a_valid_file() -> None:
    (example,) = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    parsed = parse_model_settings(tomllib.loads(example), "docs/configuration.md")
    assert parsed.tiers["premium"] == ["anthropic:claude-opus-5-5", "openai:gpt-4.1"]


def fields(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for info in model.model_fields.values():
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= fields(arg)
    return names


def test_every_key_of_the_file_is_documented_and_in_the_template() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    template = render(None)
    keys = fields(ModelSettings)
    assert {"providers", "api_key_env", "premium_at", "max_retry_after_s", "cooldown_s"} <= keys
    undocumented = [k for k in sorted(keys) if f"`{k}`" not in docs and f"[{k}" not in docs]
    assert undocumented == [], "document these vitco.toml keys in docs/configuration.md"
    untold = [k for k in sorted(keys) if k not in template]
    assert untold == [], "show these keys (commented) in the template of src/vitco/cli/init.py"


def test_every_setting_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    internal = {"models", "crash_at", "config_file"}  # the file itself; a testing hook
    env = [f"VITCO_{name.upper()}" for name in Settings.model_fields if name not in internal]
    undocumented = [name for name in env if f"`{name}`" not in docs]
    assert undocumented == [], "document these variables in docs/configuration.md"
    assert "`VITCO_CONFIG_FILE`" in docs
