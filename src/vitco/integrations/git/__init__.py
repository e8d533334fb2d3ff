"""The project's git repository: changesets in, one commit per task, worktrees per task."""

from vitco.integrations.git.exceptions import CommitIncomplete, GitError, MergeConflict, RepoError
from vitco.integrations.git.repo import GITIGNORE, Repo

__all__ = ["GITIGNORE", "CommitIncomplete", "GitError", "MergeConflict", "Repo", "RepoError"]
