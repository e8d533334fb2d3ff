"""What "nothing lost or repeated" means for a delivered demo run, checked against what the
run left behind: the cost ledger (each call of the cassette paid once), the repository (one
commit per task, found by its ``Vitco-Key`` trailer), the events (no model call, test result
or side effect reported twice) and the mail (one message per run, across every outbox given)."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from vitco.cli.run import DEMO_CASSETTE
from vitco.llm.cassette import read_cassette
from vitco.store import Store

# kinds whose messages name what they report (a call with its attempt, a commit, a test
# result with its attempt): the same one twice is a repeat. ("step" is not one: "reviewer
# reads T2" is said again, rightly, for a second attempt.)
ONCE_KINDS = ("model", "commit", "tests", "deploy", "mail", "plan", "spec")


def cassette_labels(path: Path = DEMO_CASSETTE) -> Counter[str]:
    return Counter(entry.key.label() for entry in read_cassette(path)[1])


def assert_delivered_once(store: Store, run_id: str, outboxes: list[Path]) -> None:
    run = store.get_run(run_id)
    assert run.status == "delivered", (run.status, run.reason)

    paid = Counter(call.call_key for call in store.calls(run_id=run_id))
    assert paid == cassette_labels(), "each recorded call paid exactly once"

    repo = Path(store.get_project(run.project_id).repo_path)
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "main", "--format=%B"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    keys = Counter(line for line in log.splitlines() if line.startswith("Vitco-Key:"))
    tasks = store.tasks(run_id)
    assert tasks and keys == Counter(f"Vitco-Key: {run_id}/{t.key}" for t in tasks), keys

    events = Counter(
        (e.kind, e.step, e.task, e.message) for e in store.events(run_id) if e.kind in ONCE_KINDS
    )
    repeated = [e for e, n in events.items() if n > 1]
    assert repeated == [], repeated

    mails = [p for box in outboxes if box.is_dir() for p in box.glob("*.eml")]
    mine = [p for p in mails if p.name.startswith(f"{run_id}-delivery")]
    assert len(mine) == 1, (run_id, mails)
