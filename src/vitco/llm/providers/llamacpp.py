"""A local GGUF model, in process, through llama-cpp-python: no server, no network, no key.

Typed output is *constrained*, not hoped for: the request's JSON schema is compiled into a
llama.cpp grammar, so the sampler can only emit tokens that keep the answer valid JSON of that
shape. Small local models follow instructions loosely; a grammar makes even a 135M-parameter
model answer in the schema (whether the answer is any good is another matter: the router
puts such models in the efficient tier).

The schema is also written into the system prompt, because a model that knows the field
names fills them with something sensible instead of whatever the grammar lets through.

``llama_cpp.Llama`` is not thread-safe: calls are serialised by a lock (parallel branches
share one loaded model; loading one per thread would multiply the memory).

Install with ``pip install 'vitco[local]'``; llama-cpp-python compiles llama.cpp (minutes).
Model ids: ``llamacpp:/path/to/model.gguf``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from vitco.llm.exceptions import BadResponse, ProviderError, ProviderUnavailable
from vitco.llm.model import ModelRequest, ModelResponse, Usage
from vitco.llm.providers._common import dump_json, import_sdk, output_text

__all__ = ["LlamaCppModel"]

PROVIDER = "llamacpp"


class LlamaCppModel:
    """A loaded GGUF model answering typed requests with grammar-constrained decoding.

    Args:
        llama: a loaded ``llama_cpp.Llama`` (see :meth:`load`); typed ``Any`` because the
            package is an optional extra that the type checker may not have.
        model_name: the name in :attr:`id` (the GGUF path when built by :meth:`load`).
        default_max_tokens: the output allowance when a request sets none.
    """

    def __init__(self, llama: Any, model_name: str, *, default_max_tokens: int = 1024) -> None:
        self._llama = llama
        self.model_name = model_name
        self.default_max_tokens = default_max_tokens
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        **options: Any,
    ) -> LlamaCppModel:
        """Load a GGUF file; ``UnknownModel``-style errors name the file."""
        sdk = import_sdk("llama_cpp", "local")
        gguf = Path(path).expanduser()
        if not gguf.is_file():
            raise ProviderError(PROVIDER, f"no GGUF model file at {gguf}")
        try:
            llama = sdk.Llama(
                model_path=str(gguf), n_ctx=n_ctx, n_threads=n_threads, seed=seed, verbose=False
            )
        except (ValueError, RuntimeError) as exc:
            raise ProviderError(PROVIDER, f"cannot load {gguf}: {exc}") from exc
        return cls(llama, str(gguf), **options)

    @property
    def id(self) -> str:
        return f"{PROVIDER}:{self.model_name}"

    def request(self, request: ModelRequest) -> ModelResponse:
        """One schema-constrained answer; ``ProviderError`` subclasses on failure."""
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        instruction = (
            "Answer with one JSON object that validates against this JSON schema:\n"
            + dump_json(request.output_schema)
        )
        if messages and messages[0]["role"] == "system":
            messages[0] = {
                "role": "system",
                "content": f"{messages[0]['content']}\n\n{instruction}",
            }
        else:
            messages.insert(0, {"role": "system", "content": instruction})
        limit = request.max_tokens or self.default_max_tokens
        started = time.monotonic()
        try:
            with self._lock:
                completion: Any = self._llama.create_chat_completion(
                    messages=messages,
                    response_format={"type": "json_object", "schema": request.output_schema},
                    temperature=request.temperature,
                    max_tokens=limit,
                )
        except ValueError as exc:  # prompt over the context window, a schema it cannot compile
            raise ProviderError(PROVIDER, f"the request cannot be run: {exc}") from exc
        except RuntimeError as exc:
            raise ProviderUnavailable(PROVIDER, f"llama.cpp failed: {exc}") from exc
        try:
            choice = completion["choices"][0]
            text = choice["message"]["content"]
            finish = choice.get("finish_reason")
            usage = completion.get("usage") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise BadResponse(PROVIDER, f"unexpected completion shape: {exc}") from exc
        counts = Usage(
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
        )
        at_limit = finish == "length"
        content = output_text(
            PROVIDER, text, truncated=at_limit, at_limit=at_limit, limit=limit, usage=counts
        )
        return ModelResponse(
            content=content,
            usage=counts,
            model=self.id,
            latency_s=time.monotonic() - started,
        )

    def close(self) -> None:
        """Free the model's memory now rather than at garbage collection."""
        close = getattr(self._llama, "close", None)
        if callable(close):
            close()
