"""Errors of the model layer.

::

    LLMError
    ├── NoModelConfigured        nothing to call; says how to configure a model
    ├── ModelConfigError         a bad vitco.toml (names the file, the key and the problem)
    ├── UnknownModel             an id no provider in the registry knows
    ├── ReplayMiss               a cassette has no answer for a request (names the request)
    ├── CassetteError            a cassette file that cannot be read or parsed
    ├── BudgetExceeded           the next call would cross the project's cap
    ├── AnswerTooLarge           an answer over the size limit; refused before it is stored
    └── ProviderError            a provider failed to answer (vendor errors are translated to these)
        ├── RateLimited          429; carries retry_after seconds when the provider said so
        ├── ProviderTimeout      no answer within the timeout
        ├── ProviderUnavailable  5xx, connection refused, breaker open
        │   └── AllModelsFailed  the router tried every model it could; carries each failure
        └── BadResponse          a body we cannot read (truncated, malformed, no content)
"""

from __future__ import annotations


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
    def __init__(self, provider: str, message: str, status: int | None = None) -> None:
        self.provider = provider
        self.status = status
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
