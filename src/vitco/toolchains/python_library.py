"""``python-library``: a Python package, delivered as a built wheel and its HTML docs."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from vitco.integrations.deploy import BuildFailed
from vitco.sandbox.protocol import TMP_PLACEHOLDER, Process
from vitco.toolchains.protocol import Check, Kind, Shipment, Tools
from vitco.toolchains.python import INSTALLABLE, PythonToolchain, ensure_venv

# One sandboxed run builds the wheel (offline, no build isolation), writes pydoc's HTML for
# every module of the packages the wheel holds, then installs the wheel alone into a fresh venv
# and imports each package there: the delivery is checked as a user would receive it.
_SHIP = r"""
import json, os, pkgutil, pydoc, subprocess, sys, venv, zipfile

tmp, project_python = sys.argv[1], sys.argv[2]
dist, docs, check = (os.path.join(tmp, d) for d in ("dist", "docs", "check"))
report = {"wheel": None, "docs": [], "imported": [], "errors": []}
built = subprocess.run(
    [project_python, "-I", "-m", "pip", "wheel", "--no-index", "--no-deps",
     "--no-build-isolation", "--disable-pip-version-check", "--quiet", "-w", dist, "."],
    capture_output=True, text=True)
if built.returncode != 0:
    report["errors"].append("building the wheel failed: " + (built.stdout + built.stderr)[-1500:])
    print(json.dumps(report)); sys.exit(0)
wheel = os.path.join(dist, sorted(os.listdir(dist))[0])
report["wheel"] = os.path.basename(wheel)
with zipfile.ZipFile(wheel) as zf:
    tops = sorted({n.split("/")[0].removesuffix(".py") for n in zf.namelist()
                   if not n.split("/")[0].endswith((".dist-info", ".data"))})
os.makedirs(docs)
os.chdir(docs)
sys.path.insert(0, os.environ["VITCO_PROJECT"])
for top in tops:
    try:
        module = __import__(top)
    except Exception as exc:
        report["errors"].append(f"importing {top} for its docs failed: {exc!r}")
        continue
    inner = pkgutil.walk_packages(getattr(module, "__path__", []), top + ".")
    names = [top] + [m.name for m in inner]
    for name in names:
        pydoc.writedoc(name)
report["docs"] = sorted(os.listdir(docs))
venv.EnvBuilder(with_pip=False).create(check)
py = os.path.join(check, "bin", "python")
installed = subprocess.run(
    [sys.executable, "-I", "-m", "pip", "--python", py, "install", "--no-index", "--no-deps",
     "--disable-pip-version-check", "--quiet", wheel], capture_output=True, text=True)
if installed.returncode != 0:
    report["errors"].append("installing the wheel failed: " + installed.stderr[-1500:])
for top in tops:
    ran = subprocess.run([py, "-I", "-c", f"import {top}"], capture_output=True, text=True,
                         cwd=tmp)
    if ran.returncode == 0:
        report["imported"].append(top)
    else:
        report["errors"].append(f"import {top} from the installed wheel failed: "
                                + ran.stderr[-800:])
print(json.dumps(report))
"""


class PythonLibrary(PythonToolchain):
    """Tests with pytest; delivered as a wheel built offline and pydoc HTML for its modules,
    checked by installing the wheel alone into a fresh venv and importing it."""

    name = "python-library"
    kind: Kind = "library"
    summary = "a Python package other code imports, delivered as a built wheel with its docs"
    plan_type: type[BaseModel] | None = None
    delivery = (
        f"{INSTALLABLE} and description. vitco builds a wheel offline, writes HTML docs of "
        "every module from its docstrings, installs the wheel alone into a fresh environment "
        "and imports it: everything the package needs at import time must be in the wheel or "
        "declared."
    )
    notes = ("Write docstrings on the public API: they are the delivered documentation.",)

    def ship(
        self, tools: Tools, root: Path, plan: BaseModel | None
    ) -> tuple[Shipment, Process | None]:
        python = ensure_venv(tools.sandbox, root)
        result = tools.sandbox.run(
            [str(python), "-I", "-c", _SHIP, TMP_PLACEHOLDER, str(python)],
            root,
            tools.limits,
            env={"VITCO_PROJECT": str(root)},
            collect=["dist/", "docs/"],
        )
        try:
            report = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise BuildFailed(["build", "docs"], result.stdout + result.stderr) from None
        if report["wheel"] is None:
            raise BuildFailed(["pip", "wheel", "."], "\n".join(report["errors"]))
        tools.out.mkdir(parents=True, exist_ok=True)
        artifacts = []
        for name, data in sorted(result.files.items()):
            target = tools.out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            artifacts.append(str(target))
        checks = [Check(name=f"build {report['wheel']}", ok=True, detail="wheel built")]
        checks.append(
            Check(
                name="docs",
                ok=bool(report["docs"]),
                detail=f"{len(report['docs'])} HTML pages" if report["docs"] else "no docs",
            )
        )
        checks += [Check(name=f"import {top}", ok=True) for top in report["imported"]]
        checks += [Check(name="problem", ok=False, detail=e[-500:]) for e in report["errors"]]
        summary = f"built {report['wheel']} with {len(report['docs'])} pages of docs" + (
            "" if not report["errors"] else f"; {len(report['errors'])} problems"
        )
        return Shipment(kind=self.kind, summary=summary, checks=checks, artifacts=artifacts), None
