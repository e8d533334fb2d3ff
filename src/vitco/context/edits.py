"""Search/replace edits resolved into whole files before a changeset is stored.

A developer may change a big file with exact ``search``/``replace`` blocks instead of writing
it whole. Blocks apply in order, each to the file as the blocks before it left it; a block
whose search text is not found exactly once, or a file that is not there, is a problem named
back to the developer (``EditsFailed``), never a guess. What is stored is the changeset with
the edited files written whole, so applying and committing it is the same as ever.
"""

from __future__ import annotations

from pydantic import ValidationError

from vitco.agents.outputs import Changeset, FileChange
from vitco.context.exceptions import EditsFailed
from vitco.context.snapshot import Snapshot, normal


def _preview(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return repr(first[:80])


def resolve_edits(view: Snapshot, changeset: Changeset) -> Changeset:
    """``changeset`` with its edits applied to ``view``'s files and written whole."""
    if not changeset.edits:
        return changeset
    contents: dict[str, str] = {}
    problems: list[str] = []
    for number, edit in enumerate(changeset.edits, start=1):
        path = normal(edit.path)
        if path not in contents:
            text = view.text(path)
            if text is None:
                why = "is not a text file" if view.exists(path) else "does not exist"
                problems.append(f"edit {number}: {path} {why}; write it whole under files")
                continue
            contents[path] = text
        found = contents[path].count(edit.search)
        if found != 1:
            problems.append(
                f"edit {number} on {path}: the search text starting {_preview(edit.search)} is "
                f"found {found} times, it must be found exactly once"
                + (
                    "; copy it exactly from the file (read it again)"
                    if found == 0
                    else "; include more of the surrounding lines"
                )
            )
            continue
        contents[path] = contents[path].replace(edit.search, edit.replace, 1)
    if problems:
        raise EditsFailed(problems)
    files = [*changeset.files, *(FileChange(path=p, content=c) for p, c in contents.items())]
    try:
        return Changeset(files=files, message=changeset.message, disputes=changeset.disputes)
    except ValidationError as exc:
        raise EditsFailed([str(e["msg"]) for e in exc.errors()]) from exc
