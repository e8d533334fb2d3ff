"""What the workflow runs with: built once by the composition root (``vitco.bootstrap``) and
handed in, so nothing in the workflow reads the environment, opens a store or makes a client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from vitco.config import Settings
from vitco.integrations.mail import Mailer
from vitco.llm.model import Model
from vitco.sandbox.protocol import Sandbox
from vitco.store import Store


@dataclass(frozen=True)
class Services:
    """The parts every run shares in one process (a CLI call, a worker, a service).

    ``models(id)`` gives the model for an id (``None``: the configured default); ``http()``
    makes the HTTP client a run checks its deliveries with (closed when the run ends).
    """

    settings: Settings
    store: Store
    sandbox: Sandbox
    mailer: Mailer
    models: Callable[[str | None], Model]
    http: Callable[[], httpx.Client]
