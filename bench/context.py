"""Prompt tokens per call against repository size: flat, not growing.

For each size (``--files``, default 50 200 500 2000 generated modules of about 6 KB, plus one
60 KB module the task is about; see ``tests/fakes/big_repo.py``) a fix-bug run is made on a
copy of the repository with a scripted team (the same answers at every size: the plan names the
big module, the developer searches and lists, then edits it with a search/replace block). The
figures are each call's prompt size in tokens (characters / 4, what the scripted model
reports), read from the requests the model received, and the largest per run.

    python bench/context.py                       # a table
    python bench/context.py --files 50 500 --json # one JSON object
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.big_repo import answers, make_repo
from tests.workflow.scripted import script, write_brief

from vitco.bootstrap import start_run
from vitco.config import Settings


def measure(files: int, root: Path) -> dict[str, Any]:
    """One run on a repository of ``files`` generated modules; its prompt tokens per call."""
    work = root / f"n{files}"
    client = make_repo(work / "client", files=files)
    size = sum(p.stat().st_size for p in client.rglob("*") if ".git" not in p.parts)
    model = script(answers())
    settings = Settings(home=work / "home")
    report = start_run(
        settings, write_brief(work), model=model, workflow="fix-bug", repo=client
    ).report
    calls = {r.key.label(): sum(len(m.content) for m in r.messages) // 4 for r in model.requests}
    return {
        "files": files + 5,
        "repo_bytes": size,
        "status": report["status"],
        "max_prompt_tokens": max(calls.values()),
        "prompt_tokens": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[50, 200, 500, 2000])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vitco-bench-context-") as tmp:
        runs = [measure(n, Path(tmp)) for n in args.files]
    if args.json:
        print(json.dumps({"bench": "context", "runs": runs}))
        return
    labels = list(dict.fromkeys(label for run in runs for label in run["prompt_tokens"]))
    print(f"{'call':32}" + "".join(f"{run['files']:>10}" for run in runs))
    print(f"{'(repository MB)':32}" + "".join(f"{run['repo_bytes'] / 1e6:>10.1f}" for run in runs))
    for label in labels:
        cells = "".join(f"{run['prompt_tokens'].get(label, '-'):>10}" for run in runs)
        print(f"{label:32}{cells}")
    print(f"{'largest':32}" + "".join(f"{run['max_prompt_tokens']:>10}" for run in runs))
    print(f"{'status':32}" + "".join(f"{run['status']:>10}" for run in runs))


if __name__ == "__main__":
    main()
