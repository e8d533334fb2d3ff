"""The client is checked against the OpenAPI document: every operation has one method, no
method calls an operation that is not there, and each method answers the document's schema."""

from __future__ import annotations

import inspect
import re
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from tests.api.server import Server
from vitco.api.schemas import ItemsPublic
from vitco.client import OPERATION, VitcoClient
from vitco.client.transport import operation


def _methods(cls: type = VitcoClient) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for _, method in inspect.getmembers(cls, inspect.isfunction):
        key = getattr(method, OPERATION, None)
        if key is not None:
            assert key not in found, f"{key} has two methods: {found[key].__name__}, {method}"
            found[key] = method
    return found


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if method in {"get", "put", "post", "delete", "patch"}
    }


def _schema_name(model: type[BaseModel]) -> str:
    """The name the OpenAPI document gives a model (FastAPI's, for generics too)."""
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", model.__name__)


def _json_schema(op: dict[str, Any]) -> str | None:
    """The schema name of an operation's success answer, None if it is not JSON."""
    for status, answer in op["responses"].items():
        if status.startswith("2"):
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref")
            return ref.rsplit("/", 1)[-1] if ref else None
    return None


def test_every_operation_has_a_client_method(server: Server) -> None:
    operations = _operations(server.client().get("/v1/openapi.json").json())
    methods = _methods()
    assert sorted(operations) == sorted(methods), (
        f"no client method: {sorted(operations.keys() - methods.keys())}; "
        f"no such operation: {sorted(methods.keys() - operations.keys())}"
    )
    for key, op in operations.items():
        answer = typing.get_type_hints(methods[key])["return"]
        wanted = _json_schema(op)
        if wanted is None:  # a file, a text, or a plain object: bytes, str or a dict
            assert answer in (bytes, str) or typing.get_origin(answer) is dict, key
            continue
        if typing.get_origin(answer) is list:  # a short list, unwrapped from ItemsPublic
            answer = ItemsPublic.__class_getitem__(typing.get_args(answer)[0])  # a run-time type
        assert _schema_name(answer) == wanted, key


def test_the_check_finds_a_missing_and_a_stale_method() -> None:
    class Partial:
        @operation("GET /v1/nothing")
        def nothing(self) -> None: ...

        @operation("GET /v1/nothing")
        def again(self) -> None: ...

    with pytest.raises(AssertionError, match="two methods"):
        _methods(Partial)
