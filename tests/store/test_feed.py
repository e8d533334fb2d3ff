"""The event feed of the live streams, on SQLite and PostgreSQL: every tenant's events in
order for the reader, one tenant's (project's, run's) between two numbers for a resume."""

from __future__ import annotations

from vitco.store import AccessStore, Store, open_database
from vitco.store.feed import EventFeed


def _run(store: Store, tenant: str, name: str) -> tuple[str, str]:
    project = store.create_project(name, f"/{name}", tenant_id=tenant)
    brief = store.create_brief(project.id, "b.md", "# b")
    return project.id, store.create_run(project.id, brief.id, "m", "deliver-project").id


def test_the_feed_reads_in_order_scoped_and_bounded(database_url: str) -> None:
    sessions = open_database(database_url)
    store, access, feed = Store(sessions), AccessStore(sessions), EventFeed(sessions)
    access.create_tenant("acme", "Acme")
    access.create_tenant("other", "Other")
    assert feed.head() == 0 and feed.after(0, 10) == []
    a_project, a_run = _run(store, "acme", "a")
    _, a_second = _run(store, "acme", "b")
    _, theirs = _run(store, "other", "c")
    seqs = [
        store.add_event(run, "step", f"{run}:{i}", step="plan", data={"i": i}).id
        for i in range(3)
        for run in (a_run, theirs, a_second)
    ]
    assert seqs == sorted(seqs) and feed.head() == seqs[-1]

    every = feed.after(0, 100)
    assert [e.seq for e in every] == seqs
    assert {(e.tenant_id, e.run_id) for e in every} == {
        ("acme", a_run),
        ("other", theirs),
        ("acme", a_second),
    }
    first = every[0]
    assert (first.project_id, first.kind, first.step, first.data) == (
        a_project,
        "step",
        "plan",
        {"i": 0},
    )
    assert [e.seq for e in feed.after(seqs[2], 4)] == seqs[3:7]

    top = seqs[-1]
    tenant = feed.scoped("acme", since=0, upto=top, limit=100)
    assert [e.seq for e in tenant] == [
        s for s, e in zip(seqs, every, strict=True) if e.tenant_id == "acme"
    ]
    project = feed.scoped("acme", project_id=a_project, since=0, upto=top, limit=100)
    assert {e.run_id for e in project} == {a_run} and len(project) == 3
    run = feed.scoped("acme", run_id=a_second, since=seqs[1], upto=seqs[5], limit=100)
    assert [e.seq for e in run] == [seqs[2], seqs[5]]
    assert len(feed.scoped("acme", since=0, upto=top, limit=2)) == 2
    assert feed.scoped("acme", run_id=theirs, since=0, upto=top, limit=100) == []
    assert feed.scoped("other", project_id=a_project, since=0, upto=top, limit=100) == []
