"""One conformance suite for every ``GitHost``: the local bare repositories (real git), the
GitHub adapter against the in-repo fake (REST v3 and git's smart HTTP over 127.0.0.1) and the
Gitea adapter against its fake (``/api/v1`` and git's smart HTTP)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.fakes.gitea_server import FakeGitea
from tests.fakes.github_server import FakeGitHub
from vitco.integrations.git import Repo
from vitco.integrations.git.exceptions import GitError, HostRefused, UnsafeName
from vitco.integrations.git.gitea import GiteaHost
from vitco.integrations.git.github import GitHubHost
from vitco.integrations.git.host import GitHost, branch_ref, slug
from vitco.integrations.git.local_host import LocalGitHost

TOKEN = "ghp_conformance_token_0123456789abcdef"


class Hosted:
    """A host under test and where its bare repositories are, to read what it holds."""

    def __init__(self, host: GitHost, bare: Callable[[str], Path]) -> None:
        self.host = host
        self.bare = bare

    def _git(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=self.bare(name), capture_output=True,
                              text=True, check=False)  # fmt: skip

    def heads(self, name: str, branch: str) -> str | None:
        out = self._git(name, "rev-parse", "-q", "--verify", f"refs/heads/{branch}")
        return out.stdout.strip() or None

    def contains(self, name: str, sha: str, branch: str) -> bool:
        return self._git(name, "merge-base", "--is-ancestor", sha, branch).returncode == 0


@pytest.fixture(params=["local", "github", "gitea"])
def hosted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hosted]:
    if request.param == "local":
        local = LocalGitHost(tmp_path / "host")
        yield Hosted(local, local.path_of)
        return
    if request.param == "gitea":
        with FakeGitea(tmp_path / "gitea", TOKEN) as gitea, httpx.Client(timeout=30) as client:
            yield Hosted(GiteaHost(client, SecretStr(TOKEN), url=gitea.url),
                         lambda name: gitea.bare(f"octo/{name}"))  # fmt: skip
            assert gitea.errors == []
        return
    with FakeGitHub(tmp_path / "github", TOKEN) as fake, httpx.Client(timeout=30) as client:
        host = GitHubHost(client, SecretStr(TOKEN), api_url=fake.url, git_url=fake.url)
        yield Hosted(host, lambda name: fake.bare(f"octo/{name}"))
        assert fake.errors == []


def _project(path: Path) -> Repo:
    repo = Repo.init(path)
    return repo


def _commit(repo: Repo, name: str, text: str) -> str:
    (repo.path / name).write_text(text, encoding="utf-8")
    repo.git("add", name)
    repo.git("commit", "-q", "-m", f"write {name}")
    return repo.head()


def test_a_task_branch_is_pushed_reviewed_and_merged_once(hosted: Hosted, tmp_path: Path) -> None:
    host = hosted.host
    repo = _project(tmp_path / "project")
    made = host.ensure_repo("shop-api", "the shop")
    assert host.ensure_repo("shop-api").clone_url == made.clone_url  # idempotent
    host.push(repo, "shop-api", [branch_ref("main")])
    repo.git("checkout", "-q", "-b", "task/r1/T1")
    sha = _commit(repo, "app.py", "print('hi')\n")
    host.push(repo, "shop-api", [branch_ref("task/r1/T1")])
    host.push(repo, "shop-api", [branch_ref("task/r1/T1")])  # a resumed step pushes again
    review = host.open_review(
        "shop-api", branch="task/r1/T1", base="main", title="T1: greet", body="approve: fine"
    )
    again = host.open_review(
        "shop-api", branch="task/r1/T1", base="main", title="T1: greet", body="approve: fine"
    )
    assert again.number == review.number and not review.merged
    assert review.body == "approve: fine" and review.branch == "task/r1/T1"
    merged = host.merge_review("shop-api", review.number)
    assert merged.merged and merged.merge_sha
    assert hosted.heads("shop-api", "main") == merged.merge_sha
    assert hosted.contains("shop-api", sha, "main")  # the host's main holds the task's work
    assert host.merge_review("shop-api", review.number).merge_sha == merged.merge_sha


def test_a_diverged_review_is_merged_with_both_parents(hosted: Hosted, tmp_path: Path) -> None:
    host = hosted.host
    repo = _project(tmp_path / "project")
    host.ensure_repo("two")
    repo.git("checkout", "-q", "-b", "task/r1/T2")
    branch_sha = _commit(repo, "b.txt", "b\n")
    repo.git("checkout", "-q", "main")
    main_sha = _commit(repo, "a.txt", "a\n")
    host.push(repo, "two", [branch_ref("main"), branch_ref("task/r1/T2")])
    review = host.open_review("two", branch="task/r1/T2", base="main", title="T2", body="ok")
    merged = host.merge_review("two", review.number)
    head = hosted.heads("two", "main")
    assert head == merged.merge_sha and head not in (branch_sha, main_sha)


def test_a_push_is_never_forced(hosted: Hosted, tmp_path: Path) -> None:
    host = hosted.host
    first = _project(tmp_path / "one")
    host.ensure_repo("shared")
    _commit(first, "x.txt", "one\n")
    host.push(first, "shared", [branch_ref("main")])
    other = _project(tmp_path / "other")
    _commit(other, "x.txt", "other\n")
    with pytest.raises(GitError):
        host.push(other, "shared", [branch_ref("main")])
    assert hosted.heads("shared", "main") == first.head()


def test_a_comment_is_recorded(hosted: Hosted, tmp_path: Path) -> None:
    host = hosted.host
    host.ensure_repo("issues")
    name = "issues" if isinstance(host, LocalGitHost) else "octo/issues"
    comment = host.comment(name, 7, "Delivered: see the repository")
    assert comment.body == "Delivered: see the repository" and comment.url
    if isinstance(host, LocalGitHost):
        assert host.comments("issues", 7) == ["Delivered: see the repository"]


HOSTILE_NAMES = ["../escape", "a/b", "-oProxyCommand=x", ".git", "..", "x.git", "", "a b",
                 "name\nsecond", "%2e%2e", "x" * 101]  # fmt: skip
HOSTILE_REFS = ["refs/heads/-upload-pack=x", "refs/heads/a..b", "refs/remotes/x", "HEAD",
                "refs/heads/x.lock", "main", "refs/heads/a b", "refs/heads/../../config",
                "refs/heads/x:refs/heads/y", "+refs/heads/main"]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_repository_name_is_refused(hosted: Hosted, name: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafeName):
        hosted.host.ensure_repo(name)
    assert not list(tmp_path.rglob("escape*"))


def test_a_hostile_ref_is_refused_before_git_runs(hosted: Hosted, tmp_path: Path) -> None:
    repo = _project(tmp_path / "project")
    hosted.host.ensure_repo("refs")
    for ref in HOSTILE_REFS:
        with pytest.raises(UnsafeName):
            hosted.host.push(repo, "refs", [ref])
    with pytest.raises(UnsafeName):
        hosted.host.open_review("refs", branch="-x", base="main", title="t", body="b")
    assert hosted.heads("refs", "main") is None


def test_a_local_repository_that_is_a_link_out_is_refused(tmp_path: Path) -> None:
    host = LocalGitHost(tmp_path / "host")
    (tmp_path / "host").mkdir()
    (tmp_path / "elsewhere.git").mkdir()
    (tmp_path / "host" / "planted.git").symlink_to(tmp_path / "elsewhere.git")
    with pytest.raises(UnsafeName):
        host.ensure_repo("planted")
    assert list((tmp_path / "elsewhere.git").iterdir()) == []


def test_github_token_never_lands_in_a_url_config_or_error(tmp_path: Path) -> None:
    repo = _project(tmp_path / "project")
    _commit(repo, "a.txt", "a\n")
    with FakeGitHub(tmp_path / "gh", TOKEN) as fake, httpx.Client(timeout=30) as client:
        host = GitHubHost(client, SecretStr(TOKEN), api_url=fake.url, git_url=fake.url)
        host.ensure_repo("secret-check")
        host.push(repo, "secret-check", [branch_ref("main")])
        assert fake.head("octo/secret-check", "main") == repo.head()
        git_calls = [c for c in fake.calls if ".git/" in c.path]
        assert git_calls and all(c.headers.get("authorization") for c in git_calls[-1:])
        assert all(TOKEN not in c.path and TOKEN not in str(c.query) for c in fake.calls)
        config = (repo.path / ".git" / "config").read_text(encoding="utf-8")
        assert TOKEN not in config and fake.url not in config
        # a wrong token: the API and git both refuse, and the error never holds the token
        wrong = GitHubHost(client, SecretStr("ghp_wrong"), api_url=fake.url, git_url=fake.url)
        with pytest.raises(HostRefused) as refused:
            wrong.ensure_repo("other")
        assert refused.value.status == 401 and "ghp_wrong" not in str(refused.value)
        bad = GitHubHost(client, SecretStr("ghp_wrong"), api_url=fake.url, git_url=fake.url,
                         org="octo")  # fmt: skip
        with pytest.raises(GitError) as failed:
            bad.push(repo, "secret-check", [branch_ref("main")])
        assert "ghp_wrong" not in str(failed.value)


def test_gitea_speaks_its_dialect_and_never_leaks_its_token(tmp_path: Path) -> None:
    """Gitea's token goes as ``token <t>`` to the API and as the owner's password to git,
    never in a URL or the repository's config; a repository made twice is its 409, read back;
    a refusal is typed, named Gitea and without the token."""
    repo = _project(tmp_path / "project")
    _commit(repo, "a.txt", "a\n")
    with FakeGitea(tmp_path / "gitea", TOKEN) as fake, httpx.Client(timeout=30) as client:
        host = GiteaHost(client, SecretStr(TOKEN), url=fake.url)
        made = host.ensure_repo("dialect")
        fake.miss_reads = 1  # the first read misses: the create meets its 409, then reads
        assert host.ensure_repo("dialect").clone_url == made.clone_url
        creates = [c for c in fake.calls if c.method == "POST" and c.path.endswith("/repos")]
        assert len(creates) == 2 and fake.miss_reads == 0
        assert made.clone_url == f"{fake.url}/octo/dialect.git"
        host.push(repo, "dialect", [branch_ref("main")])
        assert fake.head("octo/dialect", "main") == repo.head()
        api = [c for c in fake.calls if c.path.startswith("/api/v1/")]
        assert api and all(c.headers["authorization"] == f"token {TOKEN}" for c in api)
        assert all(TOKEN not in c.path and TOKEN not in str(c.query) for c in fake.calls)
        assert TOKEN not in (repo.path / ".git" / "config").read_text(encoding="utf-8")
        wrong = GiteaHost(client, SecretStr("gitea_wrong_token"), url=fake.url)
        with pytest.raises(HostRefused) as refused:
            wrong.ensure_repo("other")
        assert refused.value.status == 401 and "Gitea" in str(refused.value)
        assert "gitea_wrong_token" not in str(refused.value)
        pusher = GiteaHost(client, SecretStr("gitea_wrong_token"), url=fake.url, org="octo")
        pusher._login = "octo"  # the API would refuse to say who: only git is tried here
        with pytest.raises(GitError) as failed:
            pusher.push(repo, "dialect", [branch_ref("main")])
        assert "gitea_wrong_token" not in str(failed.value)


def test_github_pushes_to_the_configured_host_whatever_the_api_answers(tmp_path: Path) -> None:
    """A hostile API answer naming another clone URL never gets the token sent there."""
    repo = _project(tmp_path / "project")
    with FakeGitHub(tmp_path / "gh", TOKEN) as fake, httpx.Client(timeout=30) as client:
        host = GitHubHost(client, SecretStr(TOKEN), api_url=fake.url, git_url=fake.url)
        host.ensure_repo("pointed")
        fake.repos["octo/pointed"]["clone_url"] = "http://127.0.0.1:9/evil.git"
        made = host.ensure_repo("pointed")
        assert made.clone_url == f"{fake.url}/octo/pointed.git"
        host.push(repo, "pointed", [branch_ref("main")])
        assert fake.head("octo/pointed", "main") == repo.head()


def test_slug_makes_a_safe_name() -> None:
    assert slug("Shop API: v2 / ../../etc") == "shop-api-v2-etc"
    assert slug("***") == "project"


def test_the_process_redactor_knows_the_integration_tokens(tmp_path: Path) -> None:
    from vitco.bootstrap import build_redactor
    from vitco.config import Settings

    tokens = {"github_token": "ghp_plantedtoken123", "stripe_api_key": "sk_test_planted456",
              "vercel_token": "vercel_planted789"}  # fmt: skip
    planted: dict[str, Any] = {k: SecretStr(v) for k, v in tokens.items()}
    settings = Settings(home=tmp_path, **planted)
    redactor = build_redactor(settings)
    text = redactor.known("failed with " + " ".join(tokens.values()))
    assert not any(value in text for value in tokens.values())


def test_gitea_acts_with_the_tenants_own_token_else_the_setting(tmp_path: Path) -> None:
    from vitco.bootstrap import build_git_host, build_redactor, build_vault
    from vitco.config import Settings
    from vitco.integrations.git.exceptions import HostError
    from vitco.store import open_store
    from vitco.store.secrets import TenantSecrets

    with FakeGitea(tmp_path / "gitea", TOKEN) as fake, httpx.Client(timeout=30) as client:
        settings = Settings(home=tmp_path / "home", git_host="gitea", gitea_url=fake.url,
                            gitea_token=SecretStr("gitea_the_settings_token"))  # fmt: skip
        store = open_store(settings)
        store.ensure_tenant("acme", "Acme")
        redactor = build_redactor(settings)
        vault = build_vault(settings, store.sessions, redactor)
        TenantSecrets(store.sessions, vault).set("acme", "gitea_token", TOKEN)
        hosts = build_git_host(settings, store, redactor)
        assert hosts is not None
        assert hosts(client, "acme").ensure_repo("acme-repo").name == "acme-repo"
        with pytest.raises(HostRefused) as refused:  # the setting's token is not acme's
            hosts(client, "default").ensure_repo("default-repo")
        assert refused.value.status == 401 and "gitea_the_settings_token" not in str(refused.value)
        assert list(fake.repos) == ["octo/acme-repo"]
    with pytest.raises(HostError, match="VITCO_GITEA_URL"):
        build_git_host(settings.model_copy(update={"gitea_url": None}), store, redactor)
