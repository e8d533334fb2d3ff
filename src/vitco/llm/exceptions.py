"""Errors of the model layer.

::

    LLMError
    ├── NoModelConfigured        nothing to call; says how to configure a model
    ├── ModelConfigError         a bad vitco.toml (names the file, the key and the problem)
    ├── UnknownModel             an id no provider in the registry knows
    ├── ReplayMiss               a cassette has no answer for a request (names the request)
    ├── CassetteError            a cassette file that cannot be read or parsed
    ├── BudgetExceeded           the next call would cross the project's cap
    ├── UnpricedModel            a budgeted run would call a model with no known price
    ├── AnswerTooLarge           an answer over the size limit; refused before it is stored
    └── ProviderError            a provider failed to answer (vendor errors are translated to these)
        ├── RateLimited          429; carries retry_after seconds when the provider said so
        ├── ProviderTimeout      no answer within the timeout
        ├── ProviderUnavailable  5xx, connection refused, breaker open
        │   └── AllModelsFailed  the router tried every model it could; carries each failure
        ├── StructuredModeRefused  the server refused how typed output was asked for;
        │                          carries the refused mode and the one to try next
        └── BadResponse          a body we cannot read (truncated, malformed, no content)
            └── AnswerTruncated  the answer stopped at the output token limit
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vitco.llm.model import Usage
    from vitco.llm.modes import StructuredMode


class LLMError(Exception):
    """Base of every model-layer error."""


class NoModelConfigured(LLMError):
    def __init__(self) -> None:
        super().__init__(
            "no model is configured. Pass --model ID (e.g. 'replay:FILE.jsonl', "
            "'openai:gpt-4o-mini', 'anthropic:claude-sonnet-4-5', 'ollama:llama3.2'), or set "
            "VITCO_MODEL, or export OPENAI_API_KEY / ANTHROPIC_API_KEY / OLLAMA_HOST, or "
            "declare providers and tier chains in $VITCO_HOME/vitco.toml (or a file named by "
            "--config / VITCO_CONFIG_FILE)."
        )


class ModelConfigError(LLMError):
    """A model configuration (``vitco.toml``) that cannot be used."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"model configuration {where}: {problem}")


class UnknownModel(LLMError):
    def __init__(self, model_id: str, reason: str) -> None:
        self.model_id = model_id
        self.reason = reason
        super().__init__(f"cannot use model {model_id!r}: {reason}")


class CassetteError(LLMError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cassette {path}: {reason}")


class ReplayMiss(LLMError):
    def __init__(self, path: str, key: str, reason: str = "no recorded answer") -> None:
        self.path = path
        self.key = key
        self.reason = reason
        super().__init__(f"cassette {path} does not match: {reason} for call {key}")


class BudgetExceeded(LLMError):
    def __init__(self, spent_usd: float, cap_usd: float, next_call_usd: float) -> None:
        self.spent_usd = spent_usd
        self.cap_usd = cap_usd
        self.next_call_usd = next_call_usd
        super().__init__(
            f"budget exceeded: spent ${spent_usd:.4f} of ${cap_usd:.4f}; "
            f"the next call would cost up to ${next_call_usd:.4f}"
        )


class UnpricedModel(LLMError):
    """A run under a budget was about to call a model vitco has no price for: the budget could
    not stop it, so the call is refused until the model is priced or the risk accepted."""

    def __init__(self, model_id: str, cap_usd: float) -> None:
        self.model_id = model_id
        self.cap_usd = cap_usd
        super().__init__(
            f"model {model_id!r} has no known price, so the budget of ${cap_usd:.2f} cannot "
            f'limit it. Either give it a price in vitco.toml ([prices] "{model_id}" = '
            "{ input = USD_PER_MTOK, output = USD_PER_MTOK }), or accept unmetered spend with "
            "VITCO_ALLOW_UNPRICED=1; then resume the run"
        )


class AnswerTooLarge(LLMError):
    """A model answered with more than the journal accepts; the answer was dropped unstored.

    Not a ``ProviderError``: the provider did answer, and asking it again (a retry, another
    model in the chain) is not what a hostile or runaway answer calls for.
    """

    def __init__(self, call: str, size: int, limit: int) -> None:
        self.call = call
        self.size = size
        self.limit = limit
        super().__init__(
            f"the answer to call {call} is {size} bytes, over the limit of {limit} bytes; "
            "it was not stored"
        )


class ProviderError(LLMError):
    """A provider did not give a usable answer.

    ``usage`` is what the provider reported when it did answer (HTTP 200) with something
    unusable: such a request is billed, and the ledger records it.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        status: int | None = None,
        *,
        usage: Usage | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.usage = usage
        super().__init__(f"{provider}: {message}")


class RateLimited(ProviderError):
    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message, status=429)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    pass


class ProviderUnavailable(ProviderError):
    pass


class BadResponse(ProviderError):
    pass


class AnswerTruncated(BadResponse):
    """The answer stopped at the output token limit (``finish_reason`` length, ``stop_reason``
    max_tokens) before it was complete. Asking again unchanged gets the same cut: the router
    raises the limit or moves on. ``limit`` is the ``max_tokens`` sent (None: the server's)."""

    def __init__(
        self, provider: str, message: str, *, limit: int | None, usage: Usage | None = None
    ) -> None:
        super().__init__(provider, message, usage=usage)
        self.limit = limit


class StructuredModeRefused(ProviderError):
    """The server refused the way typed output was requested (``response_format`` json_schema,
    forced tools...): e.g. llama.cpp's server answers HTTP 500 "response_format.type: Input
    should be 'text' or 'json_object'". The model has already switched to ``fallback`` (None:
    no mode is left), so the same request can be sent again at once."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None,
        mode: StructuredMode,
        fallback: StructuredMode | None,
    ) -> None:
        super().__init__(provider, message, status=status)
        self.mode = mode
        self.fallback = fallback


class AllModelsFailed(ProviderUnavailable):
    """Every model the router could use for a call failed or was skipped.

    ``failures`` lists ``(model id, what happened)`` in the order they were tried.
    """

    def __init__(self, call: str, tier: str, failures: list[tuple[str, str]]) -> None:
        self.call = call
        self.tier = tier
        self.failures = failures
        # the same failure retried N times is said once, with its count
        counts: dict[tuple[str, str], int] = {}
        for failure in failures:
            counts[failure] = counts.get(failure, 0) + 1
        detail = (
            "; ".join(
                f"{model}: {what}" + (f" ({n} times)" if n > 1 else "")
                for (model, what), n in counts.items()
            )
            or "no model to try"
        )
        models = ", ".join(dict.fromkeys(model for model, _ in failures)) or "the tier's models"
        self.fix = (
            f"check that {models} can be reached and that its key is valid "
            "(vitco models check), or continue with another model (vitco resume RUN --model ID)"
        )
        super().__init__("router", f"no model answered call {call} (tier {tier}): {detail}")
