"""One row in through SQLAlchemy Core, back as a detached instance of its model.

The ORM's unit of work (add, flush, refresh) costs several times the INSERT itself for one
row: an accepted webhook writes five. ``inserted`` runs ``INSERT ... RETURNING`` every column
(Python-side defaults included) on a connection and builds the instance from the row, the way
``RunRows.update_run_and_say`` reads a changed run back.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import Connection, Insert, insert

from vitco.store.models import Base

M = TypeVar("M", bound=Base)


@functools.cache
def _insert(model: type[Base]) -> Insert:
    return insert(model).returning(*model.__table__.c)


def inserted(conn: Connection, model: type[M], values: dict[str, Any]) -> M:
    """Insert one row of ``model`` with ``values`` in ``conn``'s transaction; the row as
    stored (every column), as an instance no session holds."""
    row = conn.execute(_insert(model), values).one()
    return model(**row._asdict())
