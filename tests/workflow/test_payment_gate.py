"""The payment gate of deliver-paid-project: quoted and invoiced once after the plan, the run
waits until the project is paid (in full), a manager may open or close the gate."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.effects import mail_kinds, mails, plain
from tests.workflow.scripted import happy_path, script, write_brief
from vitco.bootstrap import resume_run, start_run
from vitco.config import Settings
from vitco.sandbox import Sandbox
from vitco.store import open_store
from vitco.workflow.payment_steps import WAITING, record_payment

pytestmark = pytest.mark.slow

WORKFLOW = "deliver-paid-project"


def _waiting(settings: Settings, sandbox: Sandbox, tmp_path: Path) -> tuple[str, str, int]:
    """A run stopped at the gate: its id, its project and the invoice's amount."""
    settings = settings.model_copy(update={"tenant_margins": {"default": 1.0}})
    report = start_run(settings, write_brief(tmp_path), model=script(happy_path()),
                       sandbox=sandbox, workflow=WORKFLOW).report  # fmt: skip
    assert report["status"] == "awaiting_approval" and report["reason"].startswith(WAITING)
    assert report["commits"] == 0  # no task is built before the payment
    (invoice_file,) = settings.invoices_dir.iterdir()
    invoice = json.loads(invoice_file.read_text(encoding="utf-8"))
    store = open_store(settings)
    run = store.get_run(report["run_id"])
    quoted = invoice["request"]["quote"]
    assert quoted["margin"] == 1.0  # the tenant's margin, not the default
    assert invoice["invoice"]["amount_cents"] == quoted["amount_cents"] >= 50
    # the brief's client heard: taken on, the plan (waiting to be paid), the invoice
    assert mail_kinds(settings.outbox_dir) == {"accepted": 1, "plan_ready": 1, "invoice": 1}
    (mail,) = mails(settings.outbox_dir, kind="invoice")
    assert str(mail["Subject"]).startswith("Invoice local-") and "grace@example.com" in mail["To"]
    (plan,) = mails(settings.outbox_dir, kind="plan_ready")
    assert "the invoice follows" in plain(plan)
    return run.id, run.project_id, int(quoted["amount_cents"])


def test_a_paid_project_goes_on_and_is_invoiced_once(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    run_id, project_id, amount = _waiting(settings, sandbox, tmp_path)
    store = open_store(settings)
    record_payment(store, run_id, project_id, amount, "usd", "evt_1")
    record_payment(store, run_id, project_id, amount, "usd", "evt_1")  # a replay: nothing new
    report = resume_run(settings, run_id, model=script(happy_path()), sandbox=sandbox,
                        resume={"paid": True}).report  # fmt: skip
    assert report["status"] == "delivered", report["reason"]
    assert len(list(settings.invoices_dir.iterdir())) == 1
    assert len(store.artifacts(run_id, "invoice")) == 1
    assert any(e.kind == "payment" and "paid" in e.message for e in store.events(run_id))
    # a payment gate is no needs-attention moment: the invoice said what it waits for
    assert mail_kinds(settings.outbox_dir) == {
        "accepted": 1, "plan_ready": 1, "invoice": 1, "delivered": 1,
    }  # fmt: skip


def test_a_short_payment_keeps_the_gate_closed(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    run_id, project_id, amount = _waiting(settings, sandbox, tmp_path)
    store = open_store(settings)
    record_payment(store, run_id, project_id, amount - 1, "usd", "evt_short")
    report = resume_run(settings, run_id, model=script(happy_path()), sandbox=sandbox,
                        resume={"paid": True}).report  # fmt: skip
    assert report["status"] == "awaiting_approval"
    assert report["reason"] == f"{WAITING}: {amount - 1} of {amount} paid"
    report = resume_run(settings, run_id, model=script(happy_path()), sandbox=sandbox,
                        resume={"approved": False, "reason": "no"}).report  # fmt: skip
    assert report["status"] == "needs_attention" and "payment refused" in report["reason"]
    (attention,) = mails(settings.outbox_dir, kind="needs_attention")
    assert "payment refused at the gate: no" in plain(attention)
    # the gate's rejection ended the run: no resume is offered that would change nothing
    assert "has ended and cannot go on" in plain(attention)
    assert "vitco resume" not in plain(attention)


def test_a_manager_may_open_the_gate_and_it_says_so(
    settings: Settings, sandbox: Sandbox, tmp_path: Path
) -> None:
    run_id, _project, _amount = _waiting(settings, sandbox, tmp_path)
    answer = {"approved": True, "reason": "paid by bank transfer"}
    report = resume_run(settings, run_id, model=script(happy_path()), sandbox=sandbox,
                        resume=answer).report  # fmt: skip
    assert report["status"] == "delivered", report["reason"]
    events = [e.message for e in open_store(settings).events(run_id) if e.kind == "payment"]
    assert any("without a recorded payment: paid by bank transfer" in m for m in events)


@pytest.mark.usefixtures("sandbox")
def test_killed_after_invoicing_the_run_resumes_with_the_same_invoice(short_home: Path) -> None:
    """kill -9 after the invoice was issued, before the run recorded it: resumed, the run waits
    for that same invoice (the service finds it by its key), and no second one exists."""
    from tests.workflow.test_crash_resume import vitco
    from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE

    crashed = vitco(short_home, "run", str(DEMO_BRIEF), "--model", f"replay:{DEMO_CASSETTE}",
                    "--workflow", WORKFLOW, "--json", crash_at="mid-invoice")  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    settings = Settings(home=short_home)
    (invoice_file,) = settings.invoices_dir.iterdir()
    store = open_store(settings)
    (run,) = store.runs()
    resumed = vitco(short_home, "resume", run.id, "--json")
    report = json.loads(resumed.stdout)
    assert report["status"] == "awaiting_approval", report
    invoice = json.loads(invoice_file.read_text(encoding="utf-8"))["invoice"]
    assert invoice["id"] in report["reason"]
    assert list(settings.invoices_dir.iterdir()) == [invoice_file]
    assert len(store.artifacts(run.id, "invoice")) == 1
