"""Turn a model id into a ``Model``.

- ``replay:FILE`` / ``replay+strict:FILE``: replay a cassette; ``test``: the schema-filling
  ``TestModel``;
- ``None``, ``""`` or ``router``: the router over the configured tier chains (``vitco.toml``,
  else defaults from the provider keys in the environment), or ``NoModelConfigured`` saying
  how to configure one;
- ``provider:model`` (a registry prefix or a provider named in ``vitco.toml``): that one model,
  still behind the router machinery, so retries, the breaker, pricing and the cache apply.

Where a router built here keeps its state: the response cache and the breakers' shared state
are tables of the store's database (``llm_response_cache``, ``llm_breakers``), made by the
store's migrations, so one versioned schema holds everything vitco keeps and a fleet on
PostgreSQL shares it; with ``VITCO_REDIS_URL`` set both live in Redis instead, shared by every
worker on every host without touching the database (see :mod:`vitco.llm.cache` and
:mod:`vitco.llm.breaker`). The structured-output mode each provider needs is kept beside them
(``llm_structured_modes``, or a Redis hash). The cost ledger is the store's ``model_calls``
table, written by the workflow's meter (every request the router sends), not here.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from vitco.config import Settings
from vitco.llm import providers
from vitco.llm.breaker import BreakerBoard, BreakerStore, RedisBreakerStore, StoreBreakerStore
from vitco.llm.cache import RedisResponseCache, ResponseCache, StoreResponseCache
from vitco.llm.cassette import ReplayModel
from vitco.llm.config import ModelConfig, load_model_config
from vitco.llm.exceptions import NoModelConfigured, UnknownModel
from vitco.llm.model import TIERS, Model
from vitco.llm.modes import STRUCTURED_MODES, ModeMemory, RedisModes, StoreModes, lower_mode
from vitco.llm.router import Route, Router
from vitco.llm.testing import TestModel

__all__ = [
    "ROUTER_ID",
    "breaker_store",
    "build_route",
    "build_router",
    "mode_memory",
    "resolve_model",
    "response_cache",
    "start_in_remembered_mode",
]

REDIS_RETRIES = 20  # reconnect attempts of one Redis command (see ``_redis``)

ROUTER_ID = "router"
"""The id of the configured router (what a run started without ``--model`` stores)."""


def resolve_model(model_id: str | None, settings: Settings) -> Model:
    """The model for ``model_id``; raises ``NoModelConfigured``, ``UnknownModel`` or
    ``ModelConfigError``."""
    model_id = (model_id or "").strip()
    provider, _, name = model_id.partition(":")
    if provider in ("replay", "replay+strict"):
        if not name:
            raise UnknownModel(model_id, "replay needs a cassette file: replay:PATH.jsonl")
        return ReplayModel(
            Path(name).expanduser(),
            strict=provider == "replay+strict",
            latency_s=settings.replay_latency_s,
        )
    if model_id == "test":
        return TestModel()
    config = load_model_config(settings)
    if not model_id or model_id == ROUTER_ID:
        if config.empty:
            raise NoModelConfigured()
        return build_router(config, settings)
    prefix, _name = providers.split_model_id(model_id)
    if prefix not in config.providers and prefix not in providers.PROVIDERS:
        known = ", ".join(sorted(set(config.providers) | set(providers.PROVIDERS)))
        raise UnknownModel(model_id, f"unknown provider {prefix!r}; known: {known}")
    return build_router(config, settings, only=model_id)


def build_router(
    config: ModelConfig,
    settings: Settings,
    *,
    only: str | None = None,
    engine: Engine | None = None,
) -> Router:
    """A router over ``config``'s chains (or over the one model ``only``). Its cache and
    breakers use Redis when ``settings.redis_url`` is set, else ``engine`` (default: the
    store's, opened from ``settings``)."""
    chains = {tier: (only,) for tier in TIERS} if only else dict(config.chains)
    routes: dict[str, Route] = {}
    for chain in chains.values():
        for model_id in chain:
            if model_id not in routes:
                routes[model_id] = build_route(config, model_id)
    if engine is None and not settings.redis_url:
        engine = _store_engine(settings)
    modes = mode_memory(settings, engine)
    for route in routes.values():
        start_in_remembered_mode(route, modes)
    return Router(
        {tier: [routes[m] for m in chain] for tier, chain in chains.items()},
        policy=config.policy,
        retry=config.retry,
        breakers=BreakerBoard(config.breaker, store=breaker_store(settings, engine)),
        prices=config.prices,
        cache=response_cache(settings, engine),
        cache_ttl_s=settings.cache_ttl_s,
        model_id=only or ROUTER_ID,
        modes=modes,
    )


def mode_memory(settings: Settings, engine: Engine | None = None) -> ModeMemory:
    """Where the structured-output mode each provider needs is remembered: Redis when the
    installation has one, else the store's table."""
    if settings.redis_url:
        return RedisModes(_redis(settings.redis_url))
    return StoreModes(engine or _store_engine(settings))


def start_in_remembered_mode(route: Route, modes: ModeMemory) -> None:
    """Start an OpenAI-compatible model in the structured-output mode its provider was found
    to need (see :mod:`vitco.llm.modes`), when that is further down than its configured one."""
    current = getattr(route.model, "structured", None)
    if current in STRUCTURED_MODES:
        route.model.structured = lower_mode(current, modes.get(route.provider))  # type: ignore[attr-defined]


def response_cache(settings: Settings, engine: Engine | None = None) -> ResponseCache:
    """Redis when the installation has one (shared by all workers), else the store's table."""
    if settings.redis_url:
        return RedisResponseCache(_redis(settings.redis_url))
    return StoreResponseCache(engine or _store_engine(settings))


def breaker_store(settings: Settings, engine: Engine | None = None) -> BreakerStore:
    """Where breakers are shared: Redis when the installation has one (every host sees a
    provider one gave up on), else the store's table."""
    if settings.redis_url:
        return RedisBreakerStore(_redis(settings.redis_url))
    return StoreBreakerStore(engine or _store_engine(settings))


def _store_engine(settings: Settings) -> Engine:
    """The engine of ``settings``' store (this process's one per URL), its schema at head:
    migrated on first use unless ``settings.auto_migrate`` is off (then it must be at head)."""
    from vitco.store import open_store
    from vitco.store.db import open_engine

    open_store(settings)  # the data dir made, the schema brought to (or checked at) head
    return open_engine(settings.resolved_database_url)


@functools.cache
def _redis(url: str) -> Any:
    """This process's Redis client for ``url`` (one connection pool, shared by the cache and
    the breakers of every router built here; redis-py makes new connections after a fork)."""
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("VITCO_REDIS_URL needs: pip install 'vitco[redis]'") from exc
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry

    # A restart of Redis is waited out inside the client (reconnects backing off up to 2 s,
    # about 30 s in all) instead of failing the model call that hit it; a connection idle for
    # 30 s is checked before use.
    return redis.Redis.from_url(
        url,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), REDIS_RETRIES),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        health_check_interval=30,
        socket_connect_timeout=5.0,
    )


def build_route(config: ModelConfig, model_id: str) -> Route:
    """The route of one configured ``provider:model`` id (its model built, not yet called)."""
    setup = config.provider_of(model_id)
    name = model_id.partition(":")[2].strip()
    if setup.needs_key and not setup.api_key and setup.api_key_env:
        raise UnknownModel(
            model_id, f"provider {setup.name!r} needs an API key; set {setup.api_key_env}"
        )
    model = providers.resolve_model(
        f"{setup.kind}:{name}",
        base_url=setup.base_url,
        api_key=setup.api_key,
        timeout=setup.timeout,
        stream=setup.stream,
        structured=setup.structured,
    )
    return Route(model, setup.name, model_id)
