"""The dashboard and the portal in a real browser (Debian's chromium through Playwright) on a
real vitco serve running the demo with its replay model.

One server and one demo run carry the whole story, to keep the browser's time short: an
operator logs in with a key, starts the demo brief on a template with an approval gate and
watches it live (the page is never reloaded: the event stream brings every change), finds the
gate highlighted on the graph, approves it, watches it to delivered, then forks the run from a
checkpoint picked on the timeline with the plan edited, and cancels the fork; a viewer sees no
button and is refused (403) when it forces one; the client sees its project delivered in the
portal (repository, live app, mail) and a client of another tenant sees only its own. Then
every main page is photographed at desktop and phone width and checked with axe-core: no
serious or critical violation.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import MakeServer
from tests.web.conftest import AXE, DESKTOP, PHONE
from vitco.cli.run import DEMO_BRIEF
from vitco.config import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CAREFUL = (
    "name: careful\nextends: deliver-project\ngates:\n  - {after: plan, question: 'Plan OK?'}\n"
)
LIVE_S = 120_000  # ms: the demo run's own time is a few seconds; a loaded machine is slower
RENAMED = "Renamed in the browser"


def login(context: Any, url: str, key: str) -> Any:
    """A page of ``context`` logged in with ``key`` through the login form."""
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/(portal)?$"))
    return page


def watch_errors(page: Any) -> list[str]:
    """The page's script errors and refused resources (a CSP violation is one)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))"""
    )
    return found


def test_operators_and_clients_in_a_real_browser(
    make_server: MakeServer, api_settings: Settings, browser: Any, shots: Path
) -> None:
    (api_settings.home / "workflows").mkdir(parents=True, exist_ok=True)
    (api_settings.home / "workflows" / "careful.yaml").write_text(CAREFUL)
    server = make_server()
    manager, viewer = server.key("acme", "manager"), server.key("acme", "viewer")
    client, other = server.key("acme", "client"), server.key("globex", "client")
    api = server.client(manager)
    opened: list[Any] = []
    try:
        story(browser, server.url, api, opened, shots, manager, viewer, client, other)
    finally:  # an open page keeps its event stream, and the server waits for it
        for context in opened:
            context.close()


def story(browser: Any, url: str, api: Any, opened: list[Any], shots: Path, *keys: str) -> None:
    from playwright.sync_api import expect

    manager, viewer, client, other = keys

    def new_context(**options: Any) -> Any:
        opened.append(browser.new_context(**options))
        return opened[-1]

    # an operator starts the demo brief from the dashboard and watches it live
    operator = new_context(viewport=DESKTOP)
    page = login(operator, url, manager)
    errors = watch_errors(page)
    page.get_by_label("Brief (Markdown)").fill(DEMO_BRIEF.read_text())
    page.get_by_label("Workflow").select_option("careful")
    page.get_by_label("Budget in USD (optional)").fill("5")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r"/runs/r-[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    page.evaluate("window.__notReloaded = true")
    status = page.locator("#run-status")
    expect(status).to_have_attribute("data-status", "awaiting_approval", timeout=LIVE_S)
    # the gate is where the graph says the run is; what ran before it shows its visits
    expect(page.locator('svg.graph g.current[data-node="approve_after_plan"]')).to_have_count(1)
    for node in ("analyze", "check_spec", "plan"):
        expect(page.locator(f'svg.graph g.visited[data-node="{node}"]')).to_have_count(1)
    expect(page.locator("svg.graph path.edge.loop").first).to_be_visible()
    stored = [e["seq"] for e in api.get(f"/v1/runs/{run_id}/events?limit=200").json()["items"]]
    shown = page.locator("[data-timeline] li.event")
    expect(shown).to_have_count(len(stored))

    page.get_by_label(re.compile("Your note")).fill("plan looks right")
    page.get_by_role("button", name="Approve").click()
    expect(status).to_have_attribute("data-status", "delivered", timeout=LIVE_S)
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    expect(page.locator("svg.graph g.current")).to_have_count(0)  # a delivered run is at none
    tasks = api.get(f"/v1/runs/{run_id}/tasks").json()["items"]
    expect(page.locator("#tasks tbody tr")).to_have_count(len(tasks))
    events = []
    since = 0
    while True:
        got = api.get(f"/v1/runs/{run_id}/events?since={since}&limit=200").json()
        events += got["items"]
        since = got["next_since"]
        if not got["more"]:
            break
    calls = [e for e in events if e["kind"] == "model"]
    expect(page.locator("#calls tbody tr")).to_have_count(len(calls))
    expect(page.locator("[data-timeline] li.event")).to_have_count(len(events))
    project_id = api.get(f"/v1/runs/{run_id}").json()["project_id"]
    deployed = api.get(f"/v1/deployments?project_id={project_id}").json()["items"]
    app_url = next(d["url"] for d in deployed if d["run_id"] == run_id)
    expect(page.locator("#app-url")).to_have_attribute("href", app_url)
    commits = api.get(f"/v1/runs/{run_id}/commits").json()["items"]
    assert commits, "the delivered run made commits"
    expect(page.locator("#commits details.commit")).to_have_count(len(commits))
    page.locator("#commits summary").first.click()  # a commit opens on its diff
    expect(page.locator("#commits pre.diff").first).to_contain_text("diff --git")

    # fork from the checkpoint before the tasks, picked on the timeline, with the plan edited
    history = api.get(f"/v1/runs/{run_id}/history").json()["items"]
    before_tasks = next(c for c in history if c["next"] == ["tasks"])
    name = f"Fork from here at checkpoint {before_tasks['step']}"
    page.get_by_role("button", name=name, exact=True).click()
    edits = page.get_by_label(re.compile("State edits"))
    state = json.loads(edits.input_value())
    assert [t["id"] for t in state["plan.tasks"]] == [t["key"] for t in tasks]
    state["plan.tasks"][0]["title"] = RENAMED
    edits.fill(json.dumps(state))
    page.get_by_label(re.compile("Tasks to drop")).fill(tasks[-1]["key"])
    page.get_by_role("button", name="Fork the run").click()
    page.wait_for_url(re.compile(rf"/runs/(?!{run_id})r-[0-9a-f]+$"))
    fork_id = page.url.rsplit("/", 1)[1]
    assert fork_id != run_id
    fork = api.get(f"/v1/runs/{fork_id}").json()
    assert fork["parent_run_id"] == run_id
    plan = api.get(f"/v1/runs/{fork_id}/artifacts?kind=plan").json()["items"][-1]["content"]
    assert plan["tasks"][0]["title"] == RENAMED
    assert [t["id"] for t in plan["tasks"]] == [t["key"] for t in tasks[:-1]]
    expect(page.get_by_role("link", name=run_id)).to_be_visible()  # "forked from"
    page.get_by_role("button", name="Cancel the run").click()  # the fork is not needed
    expect(page.locator("#run-status")).to_have_attribute(
        "data-status", re.compile("cancelled|delivered"), timeout=LIVE_S
    )
    assert errors == []

    # a viewer sees no button, and the API refuses one it forces (403), with the CSRF token
    watcher = new_context(viewport=DESKTOP)
    seen = login(watcher, url, viewer)
    expect(seen.locator("#start-form")).to_have_count(0)
    seen.goto(f"{url}/runs/{run_id}")
    expect(seen.locator("#run-status")).to_have_attribute("data-status", "delivered")
    expect(seen.locator("button[data-call], button[data-fork], form[data-api]")).to_have_count(0)
    forced = seen.evaluate(
        """async (run) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const ask = (path, body) => fetch(path, {method: "POST", headers:
                {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
                body: JSON.stringify(body)}).then(r => r.status);
            return [await ask(`/v1/runs/${run}/resume`, {}),
                    await ask(`/v1/runs/${run}/fork`, {at: "1"})];
        }""",
        run_id,
    )
    assert forced == [403, 403]

    # the client follows its project in the portal: delivered, repository, live app, mails
    customer = new_context(viewport=DESKTOP, accept_downloads=True)
    portal = login(customer, url, client)
    assert portal.url.endswith("/portal")
    portal.locator(f'[data-project="{project_id}"] a').click()
    expect(portal.locator("#progress-words")).to_have_attribute("data-status", re.compile(".+"))
    expect(portal.locator("#live-app")).to_have_attribute("href", app_url)
    with portal.expect_download() as download:
        portal.locator("#download").click()
    archive = Path(download.value.path()).read_bytes()
    assert gzip.decompress(archive)[:512].strip(b"\0")  # a gzipped tar of the repository
    subject = api.get(f"/v1/runs/{run_id}/mail").text.split("Subject: ", 1)[1].splitlines()[0]
    # every mail the project's runs sent (the brief accepted, ..., the delivery), newest first
    mine = api.get(f"/v1/runs/{run_id}/mails").json()["items"]
    assert len(mine) >= 2 and mine[-1]["subject"] == subject  # the delivery mail comes last
    runs = api.get("/v1/runs", params={"project_id": project_id}).json()["items"]
    sent = sum(len(api.get(f"/v1/runs/{r['id']}/mails").json()["items"]) for r in runs)
    expect(portal.locator("article.mail")).to_have_count(sent)
    for said in (subject, mine[0]["subject"]):
        expect(portal.locator("article.mail h3", has_text=said[:20]).first).to_be_visible()

    # a client of another tenant sees only its own project, never acme's
    stranger = new_context(viewport=PHONE)
    theirs = login(stranger, url, other)
    expect(theirs.locator("[data-project]")).to_have_count(0)
    theirs.get_by_label(re.compile("What should we build")).fill("# Globex widget\n\nA widget.\n")
    theirs.get_by_role("button", name="Send the brief").click()
    theirs.wait_for_url(re.compile(r"/portal/projects/p-[0-9a-f]+$"))
    expect(theirs.locator("#progress-words")).to_have_attribute("data-status", "waiting")
    theirs.goto(f"{url}/portal")
    expect(theirs.locator("[data-project]")).to_have_count(1)
    expect(theirs.locator(f'[data-project="{project_id}"]')).to_have_count(0)
    refused = theirs.goto(f"{url}/portal/projects/{project_id}")
    assert refused is not None and refused.status == 404
    assert theirs.request.get(f"{url}/v1/runs/{run_id}/repo").status == 404

    # every main page, at desktop and phone width: a screenshot and axe-core's verdict
    pages = {
        "dashboard": (manager, "/"),
        "run": (manager, f"/runs/{run_id}"),
        "costs": (manager, "/costs"),
        "health": (manager, "/health"),
        "portal": (client, "/portal"),
        "portal-project": (client, f"/portal/projects/{project_id}"),
        "login": (None, "/login"),
    }
    serious: dict[str, list[dict[str, Any]]] = {}
    tabs: dict[str | None, Any] = {}
    for key in (manager, client, None):  # axe is injected as a script: CSP bypassed for it only
        tab = new_context(viewport=DESKTOP, bypass_csp=True)
        tabs[key] = login(tab, url, key) if key is not None else tab.new_page()
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for name, (key, path) in pages.items():
            shot = tabs[key]
            shot.set_viewport_size(viewport)
            shot.goto(f"{url}{path}")
            shot.screenshot(path=str(shots / f"{name}-{width_name}.png"), full_page=True)
            found = [v for v in axe(shot) if v["impact"] in ("serious", "critical")]
            if found:
                serious[f"{name} ({width_name})"] = found
    assert serious == {}, json.dumps(serious, indent=1)
    assert len(list(shots.glob("*.png"))) >= 2 * len(pages)
