"""The demo, configured by settings only, on a running `vitco serve` (its own process):

- the git host is the local bare repository (the default): every task of the demo is a
  reviewed, merged branch there, and its main holds what was delivered;
- mail goes over SMTP (STARTTLS, AUTH) to the test's aiosmtpd server on 127.0.0.1;
- payments go to Stripe (the in-repo fake, through the official SDK): the run stops at the
  payment gate of deliver-paid-project with a finalized invoice (mailed to the client over
  SMTP with its payment link), and goes on when the test
  sends the signed ``invoice.paid`` webhook Stripe would send; a replay of it does nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.api.test_lifecycle import _wait
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.stripe_server import FakeStripe, sign
from tests.processes import free_port
from vitco.api.keys import issue
from vitco.cli.run import DEMO_BRIEF, DEMO_CASSETTE
from vitco.config import Settings
from vitco.integrations.git.local_host import LocalGitHost
from vitco.integrations.mail import KIND_HEADER
from vitco.store import AccessStore, open_store
from vitco.workflow.payment_steps import WAITING

pytestmark = pytest.mark.slow

STRIPE_KEY = "sk_test_demo_0123456789"
WHSEC = "whsec_demo_secret_0123456789"


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.3)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _received(smtp: SmtpServer) -> list[EmailMessage]:
    return [message_from_bytes(raw, policy=policy.default) for _f, _t, raw in list(smtp.received)]


def _kinds(smtp: SmtpServer) -> Counter[str]:
    """The kinds of the mails the SMTP server received (vitco's X-Vitco-Mail header)."""
    return Counter(str(m[KIND_HEADER]) for m in _received(smtp))


def test_the_configured_demo_pushes_mails_invoices_and_is_paid_by_webhook(
    short_home: Path, tmp_path: Path
) -> None:
    settings = Settings(home=short_home)
    access = AccessStore(open_store(settings).sessions)
    access.create_tenant("acme", "Acme")
    key = issue(access, "acme", "manager")[1]
    admin = issue(access, "acme", "admin")[1]
    smtp = SmtpServer(tmp_path / "tls", {"vitco": "smtp-password"})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with FakeStripe(STRIPE_KEY) as stripe_fake:
        env = os.environ | {
            "VITCO_HOME": str(short_home),
            "VITCO_MODEL": f"replay:{DEMO_CASSETTE}",
            "VITCO_MAIL_BACKEND": "smtp",
            "VITCO_SMTP_HOST": "127.0.0.1",
            "VITCO_SMTP_PORT": str(smtp.port),
            "VITCO_SMTP_CA_FILE": str(smtp.ca),
            "VITCO_SMTP_USERNAME": "vitco",
            "VITCO_SMTP_PASSWORD": "smtp-password",
            "VITCO_PAYMENTS": "stripe",
            "VITCO_STRIPE_API_KEY": STRIPE_KEY,
            "VITCO_STRIPE_API_URL": stripe_fake.url,
        }
        log = (tmp_path / "serve.log").open("w")
        serve = subprocess.Popen(
            [sys.executable, "-m", "vitco.cli", "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            _until(lambda: _answers(base) or serve.poll() is not None, 60, "vitco serve starts")
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                secret = client.put("/v1/hooks/stripe/secret", json={"secret": WHSEC},
                                    headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
                assert secret.status_code == 200, secret.text
                project = client.post("/v1/projects", json={"brief": DEMO_BRIEF.read_text()})
                project_id = project.json()["id"]
                run = client.post(f"/v1/projects/{project_id}/runs",
                                  json={"workflow": "deliver-paid-project"}).json()  # fmt: skip
                waiting = _wait(client, run["id"])
                assert waiting["status"] == "awaiting_approval", waiting
                assert waiting["reason"].startswith(WAITING)

                # the invoice on Stripe: finalized, the project's, nothing built yet
                (invoice,) = stripe_fake.invoices.values()
                assert invoice["status"] == "open" and invoice["hosted_invoice_url"]
                assert invoice["metadata"]["vitco_project_id"] == project_id
                assert invoice["amount_due"] >= 50 and invoice["id"] in waiting["reason"]
                # ... and mailed to the client over SMTP with where to pay it
                _until(lambda: "invoice" in _kinds(smtp), 30, "the invoice mail arrives")
                # the client heard it was taken on, what the plan is, what it costs
                assert _kinds(smtp) == {"accepted": 1, "plan_ready": 1, "invoice": 1}
                (billed,) = [m for m in _received(smtp) if m[KIND_HEADER] == "invoice"]
                assert str(billed["Subject"]).startswith(f"Invoice {invoice['id']}")
                plain_part = billed.get_body(("plain",))
                assert plain_part is not None
                assert invoice["hosted_invoice_url"] in plain_part.get_content()

                # Stripe says it is paid: the signed webhook moves the run on
                event = stripe_fake.paid(invoice["id"])
                hook = "/v1/hooks/stripe?tenant=acme"
                signed = {"Stripe-Signature": sign(event, WHSEC),
                          "Content-Type": "application/json"}  # fmt: skip
                forged = {**signed, "Stripe-Signature": sign(event, "whsec_wrong")}
                assert httpx.post(base + hook, content=event, headers=forged).status_code == 401
                paid = httpx.post(base + hook, content=event, headers=signed, timeout=30)
                assert paid.status_code == 202, paid.text
                assert "goes on" in paid.json()["detail"]
                done = _wait(client, run["id"])
                assert done["status"] == "delivered", done
                replay = httpx.post(base + hook, content=event, headers=signed, timeout=30)
                assert replay.status_code == 200 and replay.json()["duplicate"] is True

                events = client.get(f"/v1/runs/{run['id']}/events").json()["items"]
                tasks = client.get(f"/v1/runs/{run['id']}/tasks").json()["items"]
        finally:
            serve.terminate()
            serve.wait(60)
            log.close()
            smtp.close()

    # pushed: one merged review per task on the local bare remote, main as delivered
    host = LocalGitHost(settings.git_host_dir)
    (bare,) = settings.git_host_dir.glob("*.git")
    reviews = host.reviews(bare.name.removesuffix(".git"))
    assert len(reviews) == len(tasks) >= 1 and all(r.merged for r in reviews)
    repo = open_store(settings).get_project(project_id).repo_path
    delivered = subprocess.run(["git", "rev-parse", "main"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
    diff = subprocess.run(["git", "diff", "--quiet", delivered, "main"], cwd=bare, check=False)
    assert diff.returncode == 0  # the bare remote's main has exactly the delivered tree

    # mailed over SMTP, authenticated, to the brief's client
    assert smtp.logins and all(user == "vitco" for user in smtp.logins)
    mails = _received(smtp)
    assert _kinds(smtp) == {"accepted": 1, "plan_ready": 1, "invoice": 1, "delivered": 1}
    assert all("ada@example.com" in str(m["To"]) for m in mails)
    delivery = [m for m in mails if str(m["Subject"]).startswith("Delivered")]
    assert len(delivery) == 1

    # the payment is on the run's events
    kinds = [e["kind"] for e in events]
    assert "payment" in kinds and "review" in kinds
