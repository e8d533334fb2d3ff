"""A held write: what ``Store.step`` keeps until the step ends (see ``vitco.store.repo``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Write:
    """One held write: a Core statement, its parameters, and the error to raise if it changed
    no row (for an update of a row that must exist)."""

    statement: Any
    params: dict[str, Any]
    missing: Exception | None = None
    on_id: Callable[[Any], None] | None = None  # receives the new row's key
    run: str | None = None  # the run it writes for (fenced while a lease drives it)
