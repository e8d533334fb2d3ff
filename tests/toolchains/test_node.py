"""The node-service toolchain: package.json dependencies are checked before npm sees them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vitco.sandbox import Limits
from vitco.toolchains.exceptions import DependencyInstallFailed
from vitco.toolchains.node import dependencies, node_limits


def _package(root: Path, deps: object) -> Path:
    (root / "package.json").write_text(json.dumps({"name": "x", "dependencies": deps}))
    return root


def test_plain_names_and_ranges_are_accepted(tmp_path: Path) -> None:
    deps = {"express": "^4.19.2", "@scope/pkg": "~1.2.3", "left-pad": "1.3.0"}
    assert dependencies(_package(tmp_path, deps)) == dict(sorted(deps.items()))


@pytest.mark.parametrize(
    "spec",
    [
        "file:../../etc",
        "git+https://evil.example/x.git",
        "https://evil.example/x.tgz",
        "github:evil/x",
        "npm:other@1",
        "link:/",
    ],
)
def test_anything_but_a_version_range_is_refused(tmp_path: Path, spec: str) -> None:
    with pytest.raises(DependencyInstallFailed, match="not a package name with a version"):
        dependencies(_package(tmp_path, {"x": spec}))


def test_no_package_json_means_no_dependencies(tmp_path: Path) -> None:
    assert dependencies(tmp_path) == {}


def test_a_package_json_link_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"dependencies": {"x": "file:/etc"}}))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "package.json").symlink_to(secret)
    assert dependencies(ws) == {}


def test_node_gets_room_for_v8_but_its_heap_is_capped() -> None:
    limits, env = node_limits(Limits(memory_mb=512))
    assert limits.memory_mb >= 64 * 1024  # address space V8 reserves but never touches
    assert env == {"NODE_OPTIONS": "--max-old-space-size=512"}
