"""What "nothing lost or repeated" means for a delivered demo run, checked against what the
run left behind: the cost ledger (each call of the cassette paid once), the repository (one
commit per task, found by its ``Vitco-Key`` trailer), the events (no model call, test result
or side effect reported twice) and the mail (one message of each kind per run, across every outbox
given)."""

from __future__ import annotations

import subprocess
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

from vitco.cli.run import DEMO_CASSETTE
from vitco.integrations.mail import KIND_HEADER
from vitco.llm.cassette import read_cassette
from vitco.store import Store

# kinds whose messages name what they report (a call with its attempt, a commit, a test
# result with its attempt): the same one twice is a repeat. ("step" is not one: "reviewer
# reads T2" is said again, rightly, for a second attempt.)
ONCE_KINDS = ("model", "commit", "tests", "deploy", "mail", "plan", "spec")


def mails(*outboxes: Path, kind: str | None = None) -> list[EmailMessage]:
    """The mails in ``outboxes`` (of ``kind``, by the header vitco names a mail's kind with),
    in file name order."""
    found = [p for box in outboxes if box.is_dir() for p in sorted(box.glob("*.eml"))]
    parsed = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in found]
    return [m for m in parsed if kind is None or m[KIND_HEADER] == kind]


def mail_kinds(*outboxes: Path) -> Counter[str]:
    """How many mails of each kind the outboxes hold."""
    return Counter(str(m[KIND_HEADER]) for m in mails(*outboxes))


def plain(message: EmailMessage) -> str:
    """A mail's plain-text part."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return cast(str, cast(EmailMessage, part).get_content())


def cassette_labels(path: Path = DEMO_CASSETTE) -> Counter[str]:
    return Counter(entry.key.label() for entry in read_cassette(path)[1])


def assert_delivered_once(
    store: Store, run_id: str, outboxes: list[Path], *, gates: int = 0
) -> None:
    """``gates``: how many times the run paused at an approval gate (each pause mails the
    client once: ``needs_attention``)."""
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

    # each of the run's mails once: taken on, the plan, the delivery (none stopped it)
    mine = [m for m in mails(*outboxes) if run_id in str(m["Message-ID"])]
    kinds = Counter(str(m[KIND_HEADER]) for m in mine)
    expected = Counter({"accepted": 1, "plan_ready": 1, "delivered": 1, "needs_attention": gates})
    assert kinds == +expected, (run_id, kinds)
