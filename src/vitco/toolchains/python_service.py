"""``python-service``: an HTTP service in Python, started in the sandbox and checked live."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from vitco.sandbox.protocol import Process
from vitco.toolchains.plans import DeployPlan
from vitco.toolchains.protocol import Kind, Shipment, Tools
from vitco.toolchains.python import PythonToolchain, ensure_venv
from vitco.toolchains.service import data_contract, ship_service


class PythonService(PythonToolchain):
    """Tests with pytest; delivered by starting the app (DevOps' ``DeployPlan``) in the sandbox
    on a socket vitco hands in, waiting for its health path and running the smoke requests."""

    name = "python-service"
    kind: Kind = "service"
    summary = (
        "an HTTP service or web API in Python (FastAPI, Flask, Starlette or plain ASGI/WSGI), "
        "started and checked live"
    )
    plan_type: type[BaseModel] | None = DeployPlan
    delivery = (
        "DevOps names the start command. vitco runs it in the sandbox with no network and hands "
        "it an already listening unix socket as file descriptor {fd} (uvicorn: `python -m "
        "uvicorn pkg.app:app --fd {fd}`; gunicorn: `--bind fd://{fd}`); the app cannot bind a "
        "port or a path of its own. vitco waits until the health path answers 200, then sends "
        "the smoke requests in order through a 127.0.0.1 URL."
    )
    data = data_contract("monkeypatch.setenv('DATA_DIR', str(tmp_path))")
    notes = (
        "Test HTTP apps in-process with the framework's test client (FastAPI/Starlette: "
        "fastapi.testclient.TestClient); tests never start a server or open a port.",
    )

    def ship(
        self, tools: Tools, root: Path, plan: BaseModel | None
    ) -> tuple[Shipment, Process | None]:
        return ship_service(tools, root, plan, python=ensure_venv(tools.sandbox, root))
