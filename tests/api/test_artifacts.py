"""What a run produced, over real HTTP through the typed client: the repository as tar.gz
(from git's objects: a symlink planted in the workspace, committed or not, is never followed
nor shipped), the mails (from vitco's outbox only), the log, the report without host paths,
the typed outputs, and the project's budget."""

from __future__ import annotations

import io
import os
import tarfile
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.api.server import Server
from vitco.cli.run import DEMO_BRIEF
from vitco.client import ApiError, VitcoClient
from vitco.integrations.git.repo import Repo
from vitco.integrations.mail.outbox import OutboxMailer
from vitco.store.models import Run


def _client(server: Server, role: str = "manager") -> VitcoClient:
    client = VitcoClient(server.client(server.key("acme", role)))
    return client


def _a_run(server: Server, client: VitcoClient) -> tuple[Run, Repo]:
    """A project made through the API and a run of it whose branch has a few commits."""
    store = server.app.state.vitco.store
    project = client.create_project(DEMO_BRIEF.read_text())
    row = store.get_project(project.id)
    brief = server.access.latest_brief(project.id)
    run = store.create_run(project.id, brief.id, "m", "deliver-project")
    repo = Repo.init(Path(row.repo_path))  # as the run's first step that needs it makes it
    (repo.path / "app").mkdir()
    (repo.path / "app" / "main.py").write_text("print('hello')\n")
    (repo.path / "run.sh").write_text("#!/bin/sh\n")
    (repo.path / "run.sh").chmod(0o755)
    os.symlink("/etc/passwd", repo.path / "committed-link")  # a link in the tree...
    repo.commit("Add the app", key="t1")
    os.symlink("/etc/shadow", repo.path / "planted")  # ...and one left in the workspace
    (repo.path / "app" / "uncommitted.py").write_text("not delivered\n")
    return run, repo


def test_the_repository_archive_is_the_branch_from_git_objects_and_follows_no_link(
    server: Server,
) -> None:
    client = _client(server)
    run, repo = _a_run(server, client)
    data = client.repo_archive(run.id)

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert all(m.isfile() for m in members.values())  # no links, no devices, no dirs
        files = {name.split("/", 1)[1]: tar.extractfile(m).read() for name, m in members.items()}  # type: ignore[union-attr]
        prefixes = {name.split("/", 1)[0] for name in members}
    assert prefixes == {"Todo-API"}
    tracked = {e.path for e in repo.tree_entries("main")}
    assert set(files) == tracked == {".gitignore", "app/main.py", "run.sh"}
    assert files["app/main.py"] == b"print('hello')\n"
    assert members["Todo-API/run.sh"].mode == 0o755
    assert members["Todo-API/app/main.py"].mode == 0o644
    passwd = Path("/etc/passwd").read_bytes()
    assert all(passwd not in content for content in files.values())

    # the same commit is the same archive, named by its ETag
    again = client.transport.http.get(f"/v1/runs/{run.id}/repo")
    assert again.content == data
    assert again.headers["x-vitco-commit"] == repo.head("main")
    cached = client.transport.http.get(
        f"/v1/runs/{run.id}/repo", headers={"If-None-Match": again.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""


def test_mail_log_report_and_outputs(server: Server) -> None:
    client = _client(server)
    run, repo = _a_run(server, client)
    store = server.app.state.vitco.store
    settings = server.app.state.vitco.settings
    with pytest.raises(ApiError) as none_yet:
        client.mail(run.id)
    assert none_yet.value.status == 404 and none_yet.value.code == "not_found"

    outbox = settings.outbox_dir
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "delivery-1.eml").write_bytes(b"Subject: delivered\r\n\r\nhello\r\n")
    store.put_artifact(run.id, "mail", {"path": str(outbox / "delivery-1.eml"), "to": "a@b.c"})
    assert client.mail(run.id) == b"Subject: delivered\r\n\r\nhello\r\n"
    # a mail row naming a file elsewhere, or a link in the outbox, is not followed
    os.symlink("/etc/passwd", outbox / "passwd")
    store.put_artifact(run.id, "mail", {"path": "/etc/passwd", "to": "a@b.c"})
    with pytest.raises(ApiError) as linked:
        client.mail(run.id)
    assert linked.value.status == 404

    store.add_event(run.id, "run", "run started")
    store.add_event(run.id, "error", "it broke", task="T1", data={"traceback": "Trace\n  line"})
    log = client.logs(run.id).splitlines()
    assert [line.split(" ", 2)[2].split() for line in log[:2]] == [
        ["run", "run", "started"],
        ["error", "[T1]", "it", "broke"],
    ]
    assert log[2:] == ["    Trace", "      line"]

    store.put_artifact(run.id, "spec", {"title": "Todo API"})
    store.put_artifact(run.id, "deployment", {"url": "http://x", "artifacts": ["/host/x.whl"]})
    specs = client.artifacts(run.id, kind=["spec"])
    assert [a.content for a in specs] == [{"title": "Todo API"}]
    assert {a.kind for a in client.artifacts(run.id)} == {"spec"}  # no host paths

    report = client.report(run.id)
    assert report.run_id == run.id and report.commits == 2
    assert report.repo == f"/v1/runs/{run.id}/repo"
    assert report.mail == f"/v1/runs/{run.id}/mail"
    assert report.delivery is not None and report.delivery["artifacts"] == ["x.whl"]
    text = client.transport.http.get(f"/v1/runs/{run.id}/report").text
    assert str(repo.path) not in text and str(settings.home) not in text


def test_a_budget_is_read_set_and_cleared(server: Server) -> None:
    client = _client(server)
    project = client.create_project(DEMO_BRIEF.read_text(), budget_usd=2)
    assert client.budget(project.id).model_dump() == {
        "project_id": project.id,
        "budget_usd": 2,
        "spent_usd": 0,
        "remaining_usd": 2,
    }
    assert client.set_budget(project.id, 5.5).budget_usd == 5.5
    assert server.app.state.vitco.store.get_project(project.id).budget_usd == 5.5
    cleared = client.clear_budget(project.id)
    assert cleared.budget_usd is None and cleared.remaining_usd is None
    with pytest.raises(ApiError) as refused:
        _client(server, "viewer").set_budget(project.id, 1)
    assert refused.value.status == 403 and refused.value.code == "forbidden"
    with pytest.raises(ApiError) as negative:
        client.set_budget(project.id, -1)
    assert negative.value.status == 422
    assert negative.value.details[0]["path"] == "body.budget_usd"


def test_a_delivered_runs_repository_is_read_through_the_artifact_store(server: Server) -> None:
    client = _client(server)
    run, _ = _a_run(server, client)
    ctx = server.app.state.vitco
    live = client.repo_archive(run.id)  # not delivered: archived from the branch
    kept = b"the tarball the deliver step kept"
    ctx.artifacts.put(f"acme/{run.id}/repo.tar.gz", kept, "application/gzip")
    ctx.store.put_artifact(
        run.id, "stored", {"key": f"acme/{run.id}/repo.tar.gz", "commit": "c0ffee"}
    )
    assert client.repo_archive(run.id) == kept
    # a row pointing at another tenant's object is never followed: the branch is archived
    ctx.artifacts.put(f"other/{run.id}/repo.tar.gz", b"another tenant's", "application/gzip")
    ctx.store.put_artifact(
        run.id, "stored", {"key": f"other/{run.id}/repo.tar.gz", "commit": "c0ffee"}
    )
    assert client.repo_archive(run.id) == live


def test_every_mail_the_run_sent_is_listed_and_served_as_sent(server: Server) -> None:
    client = _client(server, "client")
    run, _repo = _a_run(server, _client(server))
    store = server.app.state.vitco.store
    mailer = OutboxMailer(server.app.state.vitco.settings.outbox_dir)
    assert client.mails(run.id) == []

    def send(key: str, subject: str) -> None:  # as the notices and the deliver step send
        message = EmailMessage()
        message["Subject"], message["To"] = subject, "ada@example.com"
        message.set_content(f"about {subject}")
        store.once(run.id, key, lambda: {"path": mailer.send(message, key=key)})

    send(f"accepted/{run.project_id}", "We have your brief")
    send(f"{run.id}/plan_ready", "The plan is ready")
    store.once(run.id, f"{run.id}/clock", lambda: {"now": 1})  # another kind of side effect
    send(f"{run.id}/delivery", "Delivered: Todo API")
    send(f"{run.id}/delivery", "sent twice, kept once")  # a step run again after a crash

    listed = client.mails(run.id)
    assert [(m.n, m.subject) for m in listed] == [
        (1, "We have your brief"),
        (2, "The plan is ready"),
        (3, "Delivered: Todo API"),
    ]
    assert [m.url for m in listed] == [f"/v1/runs/{run.id}/mails/{n}" for n in (1, 2, 3)]
    second = message_from_bytes(client.mail_at(run.id, 2))
    assert second["Subject"] == "The plan is ready"
    with pytest.raises(ApiError) as beyond:
        client.mail_at(run.id, 4)
    assert beyond.value.status == 404

    # a row naming a file outside the outbox, or a link planted in it, is neither listed
    # nor read: the outbox is read by file name, never following a link
    outbox = mailer.outbox
    os.symlink("/etc/passwd", outbox / "planted.eml")
    store.once(run.id, "x/planted", lambda: {"path": str(outbox / "planted.eml")})
    store.once(run.id, "x/elsewhere", lambda: {"path": "/etc/passwd.eml"})
    assert [m.subject for m in client.mails(run.id)] == [m.subject for m in listed]

    # another tenant's key sees none of it, even knowing the run's id
    other = VitcoClient(server.client(server.key("other", "admin")))
    with pytest.raises(ApiError) as hidden:
        other.mails(run.id)
    assert hidden.value.status == 404
