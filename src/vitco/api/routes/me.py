"""``/v1/me``: who the key is."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vitco.api.deps import CallerDep
from vitco.api.paging import tagged
from vitco.api.schemas import Me

router = APIRouter(prefix="/v1", tags=["me"])


@router.get("/me", response_model=Me)
def me(request: Request, caller: CallerDep) -> Response:
    """The tenant, key, user and role of the key that calls."""
    return tagged(request, Me.model_validate(caller, from_attributes=True))
