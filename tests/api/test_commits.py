"""``GET /v1/runs/{id}/commits`` over real HTTP: a run's commits with their diffs, read from
git's objects with nothing a repository names run (a textconv driver in its config is not),
hostile text answered as data, a long diff cut, another tenant's run a 404."""

from __future__ import annotations

from pathlib import Path

from tests.api.server import Server
from vitco.api.routes.commits import MAX_DIFF_CHARS
from vitco.integrations.git.repo import Repo


def _project_with_commits(server: Server, tmp: Path) -> tuple[str, Path]:
    admin = server.client(server.key("acme", "admin"))
    project = admin.post("/v1/projects", json={"brief": "# Hostile\n\nA brief.\n"}).json()
    store = server.app.state.vitco.store
    row = store.get_project(project["id"])
    folder = Path(row.repo_path)
    repo = Repo.init(folder)  # made when a run first needs it; this test's run is made here
    run = store.create_run(row.id, server.access.latest_brief(row.id).id, "m",
                           "deliver-project", base_sha=repo.head())  # fmt: skip
    marker = tmp / "textconv-ran"
    # a driver the repository's config names: git show would run it without --no-textconv
    repo.git("config", "diff.evil.textconv", f"sh -c 'touch {marker}; cat'")
    (folder / ".gitattributes").write_text("*.txt diff=evil\n")
    (folder / "page.txt").write_text("<script>alert(1)</script>\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "T1: a page\n\nwith a body")
    (folder / "big.txt").write_text("x" * (MAX_DIFF_CHARS + 10) + "\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "T2: a big file")
    return run.id, marker


def test_a_runs_commits_come_with_their_diffs_and_nothing_runs(
    server: Server, tmp_path: Path
) -> None:
    run_id, marker = _project_with_commits(server, tmp_path)
    viewer = server.client(server.key("acme", "viewer"))
    answer = viewer.get(f"/v1/runs/{run_id}/commits")
    assert answer.status_code == 200 and answer.headers["etag"]
    first, second = answer.json()["items"]
    assert first["message"] == "T1: a page\n\nwith a body" and len(first["sha"]) == 40
    assert "+<script>alert(1)</script>" in first["diff"] and "page.txt" in first["diff"]
    assert not first["truncated"]
    assert second["truncated"] and len(second["diff"]) == MAX_DIFF_CHARS
    assert not marker.exists(), "a textconv driver of the repository's config ran"
    other = server.client(server.key("globex", "admin"))
    assert other.get(f"/v1/runs/{run_id}/commits").status_code == 404


def test_a_run_without_a_branch_has_no_commits(server: Server) -> None:
    admin = server.client(server.key("acme", "admin"))
    project = admin.post("/v1/projects", json={"brief": "# Empty\n\nA brief.\n"}).json()
    store = server.app.state.vitco.store
    run = store.create_run(project["id"], server.access.latest_brief(project["id"]).id, "m",
                           "deliver-project", branch="never-made")  # fmt: skip
    assert admin.get(f"/v1/runs/{run.id}/commits").json() == {"items": []}
