"""What a test's code sends to the store's engine: the statements, each as one line, with the
connection it went on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def sent(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """``(statement, connection)`` for each statement ``engine`` sends in the block."""
    said: list[tuple[str, Any]] = []

    def listen(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        said.append((" ".join(statement.split()), conn))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield said
    finally:
        event.remove(engine, "before_cursor_execute", listen)
