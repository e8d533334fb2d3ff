"""The data layer: SQLAlchemy models, migrations and queries."""

from vitco.store.db import open_database
from vitco.store.exceptions import NotFound, StoreError
from vitco.store.repo import Store

__all__ = ["NotFound", "Store", "StoreError", "open_database"]
