"""Models: one protocol, providers, the router (tiers, retries, breakers, fallback), budget,
prices, the cache, cassettes and test models.

Public names are re-exported lazily (importing the package imports no provider SDK).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vitco._lazy import exports

_NAMES = {
    "CallKey": "vitco.llm.model",
    "FunctionModel": "vitco.llm.testing",
    "Model": "vitco.llm.model",
    "ModelRequest": "vitco.llm.model",
    "ModelResponse": "vitco.llm.model",
    "TestModel": "vitco.llm.testing",
    "Tier": "vitco.llm.model",
    "Usage": "vitco.llm.model",
    "resolve_model": "vitco.llm.resolve",
}
__all__ = sorted(_NAMES)
__getattr__ = exports(__name__, _NAMES)

if TYPE_CHECKING:
    from vitco.llm.model import (
        CallKey as CallKey,
    )
    from vitco.llm.model import (
        Model as Model,
    )
    from vitco.llm.model import (
        ModelRequest as ModelRequest,
    )
    from vitco.llm.model import (
        ModelResponse as ModelResponse,
    )
    from vitco.llm.model import (
        Tier as Tier,
    )
    from vitco.llm.model import (
        Usage as Usage,
    )
    from vitco.llm.resolve import resolve_model as resolve_model
    from vitco.llm.testing import FunctionModel as FunctionModel
    from vitco.llm.testing import TestModel as TestModel
