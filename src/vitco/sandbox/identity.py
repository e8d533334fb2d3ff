"""Which uid and gid a project's sandboxed code runs as: one pair per project.

The scheme::

    /etc/subuid   vitco-sandbox:FIRST_UID:COUNT      (reserved by scripts/install-system.sh)
    /etc/subgid   vitco-sandbox:FIRST_GID:COUNT
    project with sandbox slot N  ->  uid FIRST_UID + N, gid FIRST_GID + N      (0 <= N < COUNT)

``Project.sandbox_slot`` (the store) is a small number unique across all projects, so no two
projects share a uid: one project's code cannot touch another's files even if a mount exposes
them by mistake, and each project has its own ``RLIMIT_NPROC`` budget (the limit counts a uid's
processes). The ids come from the subordinate-id registry rather than from /etc/passwd so that
nothing else on the machine is handed them: useradd, podman and LXC all pick their ranges
around the ones listed there, and no uid of the range is ever a login or a service.

Choices:

- A user with several lines in a file gets its *first* line; later lines are ignored. Appending
  a range (what ``usermod --add-subuids`` does) then never moves an existing project to another
  uid, which would hand its files to whichever project lands on the old one. To grow the range,
  widen the first line and keep its start.
- A line may name the user or its numeric uid (both forms are standard); the first line of
  either form counts. Malformed lines are skipped, and so is a range that starts at 0 (it would
  make slot 0 root) or runs past the largest valid id.
- The usable count is the smaller of the two ranges.

A slot is reused once its project is gone (the store hands out the smallest free one); whatever
deletes a project must first remove every file its uid owns, or the next project inherits them.
"""

from __future__ import annotations

import pwd
import re
from contextlib import suppress
from pathlib import Path

from vitco.sandbox.exceptions import SandboxError

# uid_t is 32 bits and (uid_t)-1 means "no id" to chown and setresuid
_LAST_ID = 2**32 - 2
_NUMBER = re.compile(r"[0-9]+")  # int() would also take "+5", " 5" and "1_000"


class SandboxIdsExhausted(SandboxError):
    """Project slot ``slot`` has no uid: the sandbox user's range holds only ``count`` ids."""

    def __init__(self, slot: int, count: int) -> None:
        self.slot = slot
        self.count = count
        self.fix = (
            "prune old projects (their slots are reused), or reserve a larger range for the "
            "sandbox user in /etc/subuid and /etc/subgid: widen its first line there, keeping "
            "its start so existing projects keep their uids (a second line is not used)"
        )
        super().__init__(
            f"project sandbox slot {slot} has no uid of its own: the sandbox user's subordinate "
            f"range holds {count} ids (slots 0 to {count - 1}). Fix: {self.fix}"
        )


def subordinate_range(
    user: str, subuid: Path = Path("/etc/subuid"), subgid: Path = Path("/etc/subgid")
) -> tuple[int, int, int] | None:
    """``(first_uid, first_gid, count)`` of ``user``'s subordinate ids, or ``None`` if either
    file is missing or lists no valid range for it. ``count`` is the smaller of the two ranges.
    """
    owners = {user}
    with suppress(KeyError):  # not a local user: only lines naming it can match
        owners.add(str(pwd.getpwnam(user).pw_uid))
    uids = _first_range(subuid, owners)
    gids = _first_range(subgid, owners)
    if uids is None or gids is None:
        return None
    return uids[0], gids[0], min(uids[1], gids[1])


def project_ids(slot: int, first_uid: int, first_gid: int, count: int) -> tuple[int, int]:
    """The ``(uid, gid)`` that the project with sandbox slot ``slot`` runs as.

    Raises :class:`SandboxIdsExhausted` when the range has no ids for the slot.
    """
    if slot < 0:
        raise ValueError(f"a sandbox slot is >= 0, not {slot}")
    if slot >= count:
        raise SandboxIdsExhausted(slot, count)
    return first_uid + slot, first_gid + slot


def _first_range(path: Path, owners: set[str]) -> tuple[int, int] | None:
    """``(start, count)`` of the first valid line of ``path`` owned by one of ``owners``."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in owners:
            continue
        if not (_NUMBER.fullmatch(fields[1]) and _NUMBER.fullmatch(fields[2])):
            continue
        start, count = int(fields[1]), int(fields[2])
        if start > 0 and count > 0 and start + count - 1 <= _LAST_ID:
            return start, count
    return None
