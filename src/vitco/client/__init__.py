"""A typed Python client of ``vitco serve``'s REST API (``/v1``).

Its models are the API's own pydantic schemas (``vitco.api.schemas``), so a client and the
server it talks to agree by construction; ``tests/client/test_contract.py`` checks that every
operation of the OpenAPI document has a method here answering the document's schema.

::

    with VitcoClient("http://127.0.0.1:8420", key) as api:
        project = api.create_project(brief_text)
        run = api.wait(api.start_run(project.id).id)
        api.download_repo(run.id, Path("todo-api.tar.gz"))
"""

from __future__ import annotations

from vitco.client.api import VitcoClient
from vitco.client.exceptions import ApiError, ClientError, Unreachable
from vitco.client.transport import OPERATION, Transport

__all__ = ["OPERATION", "ApiError", "ClientError", "Transport", "Unreachable", "VitcoClient"]
