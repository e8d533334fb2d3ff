"""What a model call costs in USD, and what the next one may cost at most.

Prices come from ``genai-prices`` (pydantic's maintained price database, bundled with the
package, so no network is needed), with a configuration table that overrides or adds prices
for models it does not know (a fine-tune, a private vLLM deployment, a negotiated rate).

A model vitco has no price for costs 0 *and says so* (``Cost.known`` is False): guessing would
make budgets and invoices look precise when they are not. Local servers (Ollama, LM Studio)
cost nothing per token and are reported as known-free.

Token convention (shared with the adapters): ``Usage.input_tokens`` is the *total* prompt,
cached tokens included; ``cache_read_tokens`` and ``cache_write_tokens`` are the parts of it
that were read from / written to the provider's prompt cache.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from vitco.llm.model import ModelRequest, Usage

__all__ = [
    "DEFAULT_OUTPUT_CAP",
    "FREE_PROVIDERS",
    "Cost",
    "PriceOverrides",
    "cost_usd",
    "estimate_cost",
    "estimate_input_tokens",
]

PriceOverrides = Mapping[str, tuple[float, float, float] | tuple[float, float, float, float]]
"""``{model_id: (input, output, cache_read[, cache_write]) USD per million tokens}``.

Keys are full ids (``openai:gpt-4o-mini``) or bare model names (``gpt-4o-mini``); a full id
wins. Without a cache-write price, cache writes are charged at the input price.
"""

DEFAULT_OUTPUT_CAP = 4096
"""Output tokens assumed by :func:`estimate_cost` when a request sets no ``max_tokens``."""

FREE_PROVIDERS = frozenset({"ollama", "lmstudio", "llamacpp", "replay", "test"})
"""Providers that run on the user's own machine (no per-token price), and the models with no
provider behind them at all (a cassette replay, the test models)."""

# vitco prefix -> genai-prices provider id; prefixes not listed (vllm, openai-compat: any
# server at any price) are unknown unless the override table prices them.
_GENAI_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "groq": "groq",
    "openrouter": "openrouter",
}

PriceSource = Literal["override", "genai-prices", "free", "unknown"]


@dataclass(frozen=True)
class Cost:
    """A price in USD and where it came from; ``known`` False means "0, but we do not know"."""

    usd: float
    known: bool
    source: PriceSource
    detail: str = ""


def cost_usd(usage: Usage, model_id: str, overrides: PriceOverrides | None = None) -> Cost:
    """The cost of a call with ``usage`` on ``model_id`` (``provider:model``)."""
    provider, _, name = model_id.partition(":")
    provider = provider.lower()
    if not name:
        provider, name = "", model_id
    usage = _consistent(usage)
    price = _override(model_id, name, overrides)
    if price is not None:
        return Cost(usd=_priced(usage, price), known=True, source="override")
    if provider in FREE_PROVIDERS:
        return Cost(usd=0.0, known=True, source="free", detail=f"{provider} runs locally")
    genai_provider = _GENAI_PROVIDERS.get(provider)
    if genai_provider is None:
        return Cost(usd=0.0, known=False, source="unknown", detail=f"no price for {model_id!r}")
    return _genai_price(usage, name, genai_provider, model_id)


def estimate_input_tokens(request: ModelRequest) -> int:
    """A deliberately high input-token count for ``request``: characters / 3, rounded up.

    Real tokenizers average about four characters per token on English and code; three keeps
    the estimate on the safe side. The output schema is counted because it is sent too.
    """
    chars = sum(len(message.content) for message in request.messages)
    chars += len(str(request.output_schema))
    return math.ceil(chars / 3)


def estimate_cost(
    request: ModelRequest,
    model_id: str,
    overrides: PriceOverrides | None = None,
    *,
    default_output_cap: int = DEFAULT_OUTPUT_CAP,
) -> Cost:
    """A conservative upper bound on what ``request`` will cost before it is sent.

    Input tokens from :func:`estimate_input_tokens`, none of them cached; output tokens at
    the request's ``max_tokens`` (or ``default_output_cap``). Budgets compare this with what
    is left before making a call.
    """
    usage = Usage(
        input_tokens=estimate_input_tokens(request),
        output_tokens=request.max_tokens if request.max_tokens is not None else default_output_cap,
    )
    return cost_usd(usage, model_id, overrides)


def _consistent(usage: Usage) -> Usage:
    """Make the cached parts fit inside the total (some servers report them inconsistently)."""
    cached = usage.cache_read_tokens + usage.cache_write_tokens
    if usage.input_tokens >= cached:
        return usage
    return usage.model_copy(update={"input_tokens": cached})


def _override(
    model_id: str, name: str, overrides: PriceOverrides | None
) -> tuple[float, float, float, float] | None:
    if not overrides:
        return None
    entry = overrides.get(model_id)
    if entry is None:
        entry = overrides.get(name)
    if entry is None:
        return None
    if len(entry) == 3:
        return (entry[0], entry[1], entry[2], entry[0])
    return (entry[0], entry[1], entry[2], entry[3])


def _priced(usage: Usage, price: tuple[float, float, float, float]) -> float:
    input_price, output_price, cache_read_price, cache_write_price = price
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    total = (
        uncached * input_price
        + usage.cache_read_tokens * cache_read_price
        + usage.cache_write_tokens * cache_write_price
        + usage.output_tokens * output_price
    )
    return total / 1_000_000


def _genai_price(usage: Usage, name: str, provider_id: str, model_id: str) -> Cost:
    import genai_prices

    counts = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }
    try:
        calculation = genai_prices.calc_price(
            genai_prices.Usage(**{k: v for k, v in counts.items() if v}),
            name,
            provider_id=provider_id,
        )
    except LookupError:
        return Cost(usd=0.0, known=False, source="unknown", detail=f"no price for {model_id!r}")
    except ValueError as exc:  # usage the price table cannot split (e.g. unpriced units)
        return Cost(usd=0.0, known=False, source="unknown", detail=f"{model_id}: {exc}")
    total: Decimal = calculation.total_price
    return Cost(
        usd=float(total),
        known=True,
        source="genai-prices",
        detail=f"{calculation.provider.id}:{calculation.model.id}",
    )
