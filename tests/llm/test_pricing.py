"""Costs from genai-prices and the override table; unknown prices are flagged, never guessed."""

from __future__ import annotations

import math

import genai_prices
import pytest

from vitco.llm.model import CallKey, Message, ModelRequest, Usage
from vitco.llm.pricing import DEFAULT_OUTPUT_CAP, cost_usd, estimate_cost, estimate_input_tokens


def _request(text: str, *, max_tokens: int | None = None) -> ModelRequest:
    return ModelRequest(
        key=CallKey(role="analyst", step="analyze"),
        messages=(Message(role="user", content=text),),
        output_name="Spec",
        output_schema={},
        max_tokens=max_tokens,
    )


def test_known_model_is_priced_by_genai_prices() -> None:
    usage = Usage(input_tokens=10_000, output_tokens=2_000, cache_read_tokens=4_000)
    cost = cost_usd(usage, "openai:gpt-4o-mini")
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=10_000, output_tokens=2_000, cache_read_tokens=4_000),
        "gpt-4o-mini",
        provider_id="openai",
    ).total_price
    assert cost.known and cost.source == "genai-prices"
    assert cost.usd == pytest.approx(float(expected))
    assert cost.usd > 0


def test_cache_reads_are_cheaper_and_cache_writes_dearer_for_claude() -> None:
    model = "anthropic:claude-sonnet-4-5"
    plain = cost_usd(Usage(input_tokens=100_000), model).usd
    read = cost_usd(Usage(input_tokens=100_000, cache_read_tokens=90_000), model).usd
    write = cost_usd(Usage(input_tokens=100_000, cache_write_tokens=90_000), model).usd
    assert read < plain < write


@pytest.mark.parametrize(
    "model_id", ["groq:llama-3.3-70b-versatile", "openrouter:meta-llama/llama-3.1-8b-instruct"]
)
def test_hosted_compatible_providers_are_priced(model_id: str) -> None:
    cost = cost_usd(Usage(input_tokens=1_000_000, output_tokens=1_000_000), model_id)
    assert cost.known and cost.usd > 0


def test_override_table_prices_exactly() -> None:
    overrides = {"openai:gpt-4o-mini": (1.0, 2.0, 0.5)}
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cache_read_tokens=200_000)
    cost = cost_usd(usage, "openai:gpt-4o-mini", overrides)
    # 800k uncached * $1 + 200k cached * $0.5 + 500k out * $2, per million
    assert cost.usd == pytest.approx(0.8 + 0.1 + 1.0)
    assert cost.known and cost.source == "override"


def test_override_by_bare_name_and_full_id_wins() -> None:
    usage = Usage(input_tokens=1_000_000)
    assert cost_usd(usage, "vllm:my-tune", {"my-tune": (3.0, 0.0, 0.0)}).usd == pytest.approx(3.0)
    both = {"my-tune": (3.0, 0.0, 0.0), "vllm:my-tune": (5.0, 0.0, 0.0)}
    assert cost_usd(usage, "vllm:my-tune", both).usd == pytest.approx(5.0)


def test_override_with_cache_write_price() -> None:
    usage = Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000)
    three = cost_usd(usage, "vllm:m", {"vllm:m": (1.0, 0.0, 0.1)}).usd
    four = cost_usd(usage, "vllm:m", {"vllm:m": (1.0, 0.0, 0.1, 1.25)}).usd
    assert three == pytest.approx(1.0)  # writes at the input price when none is given
    assert four == pytest.approx(1.25)


@pytest.mark.parametrize(
    "model_id", ["vllm:my-model", "openai-compat:phi", "openai:no-such-model-xyz", "bare-name"]
)
def test_unknown_price_costs_zero_and_says_so(model_id: str) -> None:
    cost = cost_usd(Usage(input_tokens=1000, output_tokens=1000), model_id)
    assert cost.usd == 0.0
    assert not cost.known
    assert cost.source == "unknown"


@pytest.mark.parametrize("model_id", ["ollama:llama3.2", "lmstudio:qwen2.5"])
def test_local_servers_are_known_free(model_id: str) -> None:
    cost = cost_usd(Usage(input_tokens=1000, output_tokens=1000), model_id)
    assert cost.usd == 0.0 and cost.known and cost.source == "free"


def test_inconsistent_usage_does_not_raise() -> None:
    # some servers report cached tokens outside the prompt count
    cost = cost_usd(Usage(input_tokens=10, cache_read_tokens=500), "openai:gpt-4o-mini")
    assert cost.known and cost.usd > 0


@pytest.mark.parametrize(("chars", "tokens"), [(10, 4), (13, 5), (0, 1)])
def test_input_estimate_is_chars_over_three_rounded_up(chars: int, tokens: int) -> None:
    # the schema {} adds its 2 characters: ceil((chars + 2) / 3)
    assert estimate_input_tokens(_request("x" * chars)) == tokens


def test_estimate_uses_max_tokens_or_the_default_cap() -> None:
    overrides = {"vllm:m": (1.0, 2.0, 0.0)}
    capped = estimate_cost(_request("x" * 298, max_tokens=1000), "vllm:m", overrides)
    assert capped.usd == pytest.approx((100 * 1.0 + 1000 * 2.0) / 1e6)
    default = estimate_cost(_request("x" * 298), "vllm:m", overrides)
    assert default.usd == pytest.approx((100 * 1.0 + DEFAULT_OUTPUT_CAP * 2.0) / 1e6)


def test_estimate_is_an_upper_bound_for_a_realistic_call() -> None:
    request = _request("word " * 2000, max_tokens=500)  # ~2000 real tokens, 10k chars
    estimate = estimate_cost(request, "openai:gpt-4o-mini")
    actual = cost_usd(Usage(input_tokens=2_100, output_tokens=480), "openai:gpt-4o-mini")
    assert estimate.known and estimate.usd >= actual.usd
    assert not math.isnan(estimate.usd)
