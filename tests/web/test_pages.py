"""The pages over real HTTP with hostile content: what a model wrote (a task's title, an
event's message, a model call's name, a brief's title, a gate's question) reaches the pages
as escaped text, never as markup; and a page of another tenant's run is a 404."""

from __future__ import annotations

import re

from tests.api.server import Server
from tests.web.test_sessions import logged_in

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_hostile_words_reach_every_page_as_text(server: Server) -> None:
    admin = server.client(server.key("acme", "admin"))
    brief = f"# Shop {HOSTILE}\n\nA brief.\n"
    project = admin.post("/v1/projects", json={"brief": brief}).json()
    store = server.app.state.vitco.store
    run = store.create_run(project["id"], server.access.latest_brief(project["id"]).id, "m",
                           "deliver-project")  # fmt: skip
    store.update_run(run.id, status="awaiting_approval", reason=HOSTILE)
    store.add_tasks(run.id, [{"key": "T1", "title": HOSTILE, "role": "developer",
                              "complexity": 3, "depends_on": []}])  # fmt: skip
    store.add_event(run.id, "step", HOSTILE, step="plan")
    store.add_event(run.id, "model", HOSTILE, step="plan", data={"call": HOSTILE, "role": "x"})
    browser, _ = logged_in(server, server.key("acme", "manager"))
    pages = ["/", f"/runs/{run.id}", f"/runs/{run.id}/parts", "/portal",
             f"/portal/projects/{project['id']}", "/costs", "/health"]  # fmt: skip
    shown = 0
    for path in pages:
        answer = browser.get(path)
        assert answer.status_code == 200, path
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text, path
        shown += answer.text.count("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert shown >= 6  # the brief's title, the task, the reason, the event, the call...
    run_page = browser.get(f"/runs/{run.id}").text
    assert re.search(r'<g class="node[^"]*current[^"]*" data-node="plan"', run_page)

    # a project a client sent in is started from the dashboard by whom the matrix lets
    other = admin.post("/v1/projects", json={"brief": "# Sent in\n\nA brief.\n"}).json()
    start = f'data-start-project="{other["id"]}"'
    assert start in browser.get("/").text
    watcher, _ = logged_in(server, server.key("acme", "viewer"))
    assert start not in watcher.get("/").text and "data-start-run" not in watcher.get("/").text

    theirs, _ = logged_in(server, server.key("globex", "manager"))
    assert theirs.get(f"/runs/{run.id}").status_code == 404
    assert theirs.get(f"/runs/{run.id}/parts").status_code == 404
    assert theirs.get(f"/portal/projects/{project['id']}").status_code == 404
