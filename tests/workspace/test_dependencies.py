"""A project's requirements are installed into its venv, in the sandbox, once per content."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from vitco.sandbox import Sandbox
from vitco.workspace.repo import Repo
from vitco.workspace.testrunner import ensure_venv, install_requirements, run_tests


def make_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (no build step, so pip needs no network to install it)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "def answer():\n    return 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    records = []
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            data = text.encode()
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{path},sha256={digest},{len(data)}")
        records.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel


def test_requirements_are_installed_once_and_importable_in_tests(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    repo = Repo.init(tmp_path / "proj")
    make_wheel(repo.path / "vendor")
    (repo.path / "requirements.txt").write_text("./vendor/tinydep-1.0-py3-none-any.whl\n")
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_dep.py").write_text(
        "import tinydep\n\ndef test_it():\n    assert tinydep.answer() == 42\n"
    )
    report = run_tests(sandbox, repo.path)
    assert report.ok, report.output
    python = ensure_venv(repo.path)
    assert install_requirements(sandbox, repo.path, python) is False  # same file: nothing to do
    (repo.path / "requirements.txt").write_text("./vendor/tinydep-1.0-py3-none-any.whl\n\n# v2\n")
    assert install_requirements(sandbox, repo.path, python) is True
    assert not (repo.path / "tinydep").exists()  # installed into the venv, not the workspace


def test_a_failing_install_is_reported_as_a_test_error(tmp_path: Path, sandbox: Sandbox) -> None:
    repo = Repo.init(tmp_path / "proj")
    (repo.path / "requirements.txt").write_text("./vendor/missing-1.0-py3-none-any.whl\n")
    (repo.path / "tests").mkdir()
    (repo.path / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    report = run_tests(sandbox, repo.path)
    assert not report.ok and report.errors == 1
    assert "missing-1.0-py3-none-any.whl" in report.output
