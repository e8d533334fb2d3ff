"""The composition root: the one place that builds vitco's parts and hands them down.

The commands (``vitco run``, ``resume``, ``fork``, ``approve``, ``worker``) and the tests call
the entry points here; they build the ``Services`` a run needs once (the store, the sandbox,
the mailer, the model resolver, an HTTP client per run) and pass them to the workflow layer,
which builds nothing itself. Below this module nothing reads the environment (``Settings`` is
made by the caller), opens a store or makes a client on its own.

Imports are inside the functions: a command imports only what it uses (``vitco --help``
stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable
    from typing import TextIO

    import httpx
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from vitco.config import Settings
    from vitco.integrations.deploy.target import DeployTarget
    from vitco.integrations.git.host import GitHost
    from vitco.integrations.mail import Mailer
    from vitco.integrations.payments import Invoice, InvoiceRequest, Payments
    from vitco.integrations.storage import ArtifactStore
    from vitco.integrations.webhooks import Outbound
    from vitco.jobs.embedded import EmbeddedWorker
    from vitco.llm.model import Model
    from vitco.observability.redaction import Redactor
    from vitco.sandbox.protocol import Sandbox
    from vitco.secrets import Vault
    from vitco.store import Store
    from vitco.store.webhooks import WebhookStore
    from vitco.workflow.runner import Outcome
    from vitco.workflow.services import Services

HTTP_TIMEOUT_S = 10.0


def build(
    settings: Settings,
    *,
    model: Model | None = None,
    sandbox: Sandbox | None = None,
    redactor: Redactor | None = None,
) -> Services:
    """The parts runs share, from ``settings``; ``model`` and ``sandbox`` replace the
    configured ones (a test's scripted model, a replay). ``redactor`` is the process's (one is
    made when not given): the store writes events and artifacts through it, runs' prompts
    pass through it, and it knows every stored tenant secret from here on."""

    import httpx

    from vitco.leases import open_leases
    from vitco.llm.resolve import resolve_model
    from vitco.sandbox import get_sandbox
    from vitco.store import open_store
    from vitco.workflow.services import Services

    def models(model_id: str | None) -> Model:
        return model if model is not None else resolve_model(model_id, settings)

    tls: list[ssl.SSLContext] = []
    proxies: dict[str, str | None] = {}

    def http() -> httpx.Client:
        # Loading the CA bundle costs ~45 ms of CPU: once per Services, not once per run
        # (an SSLContext is safe to share between clients and threads). The proxies the
        # environment names too: httpx reads them for every client it builds (~0.14 of the
        # ~0.21 ms a client cost, once per run); they are given as its mounts instead, as
        # httpx makes them (``env_proxy_mounts``).
        if not tls:
            proxies.update(env_proxies())
            tls.append(httpx.create_ssl_context())
        mounts = env_proxy_mounts(proxies, tls[0])
        return httpx.Client(timeout=HTTP_TIMEOUT_S, verify=tls[0], trust_env=False, mounts=mounts)

    redactor = redactor if redactor is not None else build_redactor(settings)
    store = open_store(settings, redactor=redactor)
    learn_stored_secrets(settings, store, redactor)
    return Services(
        settings=settings,
        store=store,
        sandbox=sandbox if sandbox is not None else get_sandbox(settings),
        mailer=build_mailer(settings),
        models=models,
        http=http,
        artifacts=build_artifacts(settings),
        git_host=build_git_host(settings, store, redactor),
        payments=build_payments(settings, store, redactor),
        deploy_target=build_deploy_target(settings),
        leases=open_leases(settings, store.engine),
    )


def env_proxies() -> dict[str, str | None]:
    """The proxies the environment names (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``), by URL pattern (None: no proxy), as httpx reads them for a client that
    trusts the environment."""
    from httpx._utils import get_environment_proxies

    return get_environment_proxies()


def env_proxy_mounts(
    proxies: dict[str, str | None], verify: ssl.SSLContext
) -> dict[str, httpx.BaseTransport | None]:
    """The mounts of a client that does not read the environment (``trust_env=False``) for
    ``proxies`` (``env_proxies``): the transports httpx builds for them itself."""
    import httpx

    return {
        pattern: None if url is None else httpx.HTTPTransport(verify=verify, proxy=url)
        for pattern, url in proxies.items()
    }


def build_deploy_target(
    settings: Settings,
) -> Callable[[httpx.Client, Sandbox], DeployTarget] | None:
    """Where deliveries are shipped after their checks (``settings.deploy_target``); ``None``
    for the local, supervised deployment."""
    from vitco.integrations.deploy.exceptions import DeployError

    if settings.deploy_target == "local":
        return None
    if settings.deploy_target == "command":
        from vitco.integrations.deploy.command import CommandTarget
        from vitco.toolchains.protocol import project_limits

        if not settings.deploy_ship_command:
            raise DeployError("deploy_target=command needs VITCO_DEPLOY_SHIP_COMMAND")
        return lambda _client, sandbox: CommandTarget(
            sandbox, ship=settings.deploy_ship_command, build=settings.deploy_build_command,
            limits=project_limits(settings), timeout_s=settings.deploy_command_timeout_s,
        )  # fmt: skip
    from vitco.integrations.deploy.vercel import VercelTarget

    token = settings.vercel_token
    if token is None:
        raise DeployError("deploy_target=vercel needs a token: set VITCO_VERCEL_TOKEN")
    return lambda client, _sandbox: VercelTarget(
        client, token, api_url=settings.vercel_api_url, team_id=settings.vercel_team_id,
        scheme=settings.vercel_url_scheme,
    )  # fmt: skip


def build_payments(
    settings: Settings, store: Store, redactor: Redactor
) -> Callable[[str], Payments]:
    """How a run of a tenant reaches the configured payment service (``settings.payments``).
    Stripe's secret key is the tenant's own secret ``stripe_api_key`` (sealed at rest:
    ``vitco secrets set stripe_api_key``), else ``VITCO_STRIPE_API_KEY``: each tenant bills
    on its own Stripe account. A client is made per run (cheap: the SDK opens no connection
    until a request); the key never leaves it (errors carry Stripe's code and message only)."""
    from vitco.integrations.payments import LocalPayments, PaymentError

    if settings.payments == "local":
        local = LocalPayments(settings.invoices_dir)
        return lambda _tenant: local
    import stripe

    from vitco.integrations.payments.stripe import StripePayments
    from vitco.store.secrets import TenantSecrets

    secrets = TenantSecrets(store.sessions, build_vault(settings, store.sessions, redactor))

    def stripe_of(tenant_id: str) -> Payments:
        stored = secrets.get(tenant_id, "stripe_api_key")
        key = stored or (settings.stripe_api_key.get_secret_value()
                         if settings.stripe_api_key is not None else None)  # fmt: skip
        if not key:
            raise PaymentError(
                f"payments=stripe needs a key for tenant {tenant_id!r}: "
                "vitco secrets set stripe_api_key (the tenant's), or VITCO_STRIPE_API_KEY"
            )
        client = stripe.StripeClient(
            key, base_addresses={"api": settings.stripe_api_url}, max_network_retries=2
        )
        return StripePayments(client, success_url=settings.checkout_success_url)

    # the key is looked up when an invoice is issued: a run that bills nothing needs none
    return lambda tenant_id: _Deferred(lambda: stripe_of(tenant_id))


class _Deferred:
    """A payment service made when it is first used (``make`` may raise ``PaymentError``,
    which the payment step reports like any refusal)."""

    def __init__(self, make: Callable[[], Payments]) -> None:
        self.make = make

    def issue(self, request: InvoiceRequest) -> Invoice:
        return self.make().issue(request)

    def checkout(self, request: InvoiceRequest) -> Invoice:
        return self.make().checkout(request)


def build_git_host(
    settings: Settings, store: Store, redactor: Redactor
) -> Callable[[httpx.Client, str], GitHost] | None:
    """How a run of a tenant reaches the configured git host (``settings.git_host``), given
    the run's HTTP client. GitHub's token is the tenant's own secret ``github_token`` (sealed
    at rest: ``vitco secrets set github_token``), else ``VITCO_GITHUB_TOKEN``; Gitea's the
    same with ``gitea_token`` and ``VITCO_GITEA_TOKEN``."""
    from pydantic import SecretStr

    from vitco.integrations.git.exceptions import HostError

    if settings.git_host == "none":
        return None
    if settings.git_host == "local":
        from vitco.integrations.git.local_host import LocalGitHost

        local = LocalGitHost(settings.git_host_dir)
        return lambda _client, _tenant: local
    from vitco.integrations.git.github import GitHubHost
    from vitco.store.secrets import TenantSecrets

    secrets = TenantSecrets(store.sessions, build_vault(settings, store.sessions, redactor))

    def tenant_token(tenant_id: str, host: str, setting: SecretStr | None) -> SecretStr:
        """The tenant's ``<host>_token`` secret, else the setting's; ``HostError`` if none."""
        stored = secrets.get(tenant_id, f"{host}_token")
        token = SecretStr(stored) if stored else setting
        if token is None:
            raise HostError(
                f"git_host={host} needs a token for tenant {tenant_id!r}: vitco secrets set "
                f"{host}_token (the tenant's), or VITCO_{host.upper()}_TOKEN"
            )
        return token

    if settings.git_host == "gitea":
        from vitco.integrations.git.gitea import GiteaHost

        url = settings.gitea_url
        if not url:
            raise HostError("git_host=gitea needs the server: set VITCO_GITEA_URL")

        def gitea(client: httpx.Client, tenant_id: str) -> GitHost:
            token = tenant_token(tenant_id, "gitea", settings.gitea_token)
            return GiteaHost(client, token, url=url, org=settings.gitea_org)

        return gitea

    def github(client: httpx.Client, tenant_id: str) -> GitHost:
        token = tenant_token(tenant_id, "github", settings.github_token)
        return GitHubHost(
            client, token, api_url=settings.github_api_url, git_url=settings.github_url,
            org=settings.github_org,
        )  # fmt: skip

    return github


def start_run(
    settings: Settings,
    brief_path: Path,
    *,
    model: Model | None = None,
    sandbox: Sandbox | None = None,
    **options: Any,
) -> Outcome:
    """``workflow.runner.start`` with the parts built here (``options``: its keywords).

    The brief, the template and the model are checked before the sandbox is built or anything
    is stored, so bad input costs nothing."""
    from vitco.workflow.brief import load_brief
    from vitco.workflow.runner import check_workflow, start

    load_brief(brief_path)
    check_workflow(settings, options.get("workflow", "deliver-project"), options.get("repo"))
    if model is None:
        from vitco.llm.resolve import resolve_model

        model = resolve_model(options.pop("model_id", None) or settings.model, settings)
    return start(build(settings, model=model, sandbox=sandbox), brief_path, model=model, **options)


def resume_run(
    settings: Settings,
    run_id: str,
    *,
    model: Model | None = None,
    sandbox: Sandbox | None = None,
    **options: Any,
) -> Outcome:
    """``workflow.runner.resume`` with the parts built here (``options``: its keywords)."""
    from vitco.workflow.runner import resume

    return resume(build(settings, model=model, sandbox=sandbox), run_id, model=model, **options)


SESSION_KEY = "web-session.key"
"""The file in the data dir that keeps the browser sessions' signing secret."""


def build_api(
    settings: Settings,
    *,
    model: Model | None = None,
    sandbox: Sandbox | None = None,
    redactor: Redactor | None = None,
) -> FastAPI:
    """The app of ``vitco serve`` in the embedded mode: the store of ``settings``, the run
    queue (``VITCO_QUEUE``), a worker in this process that executes queued runs
    (``VITCO_WORKER_CONCURRENCY`` at once) and the
    supervisor that keeps their deployed apps up (both start and stop with the app)."""
    import dataclasses

    from vitco.api import Authenticator, create_app
    from vitco.api.deps import ApiContext, Elsewhere
    from vitco.api.limits import TokenBuckets
    from vitco.api.live import Live
    from vitco.api.sessions import BrowserSessions, load_secret
    from vitco.deployments import Supervisor
    from vitco.jobs.embedded import EmbeddedWorker, execute_job
    from vitco.jobs.queue import open_queue
    from vitco.jobs.worker import scan_orphans
    from vitco.store import AccessStore
    from vitco.store.deployments import DeploymentStore
    from vitco.store.feed import EventFeed
    from vitco.store.webhooks import WebhookStore
    from vitco.web import install as install_web

    redactor = redactor if redactor is not None else build_redactor(settings)
    services = build(settings, model=model, sandbox=sandbox, redactor=redactor)
    store = services.store
    access = AccessStore(store.sessions)
    queue = open_queue(settings, store.sessions)
    supervisor = Supervisor(
        settings, store, DeploymentStore(store.sessions), services.sandbox, services.http
    )
    # the worker's runs hand the apps they deploy to the supervisor, which keeps them up
    services = dataclasses.replace(services, deployments=supervisor)
    worker = EmbeddedWorker(
        queue,
        store,
        lambda job: execute_job(services, job),
        concurrency=settings.worker_concurrency,
        lease_s=settings.queue_lease_s,
        watch=lambda: scan_orphans(settings, store, queue),  # as vitco worker does
    )
    hooks = WebhookStore(store.sessions, build_vault(settings, store.sessions, redactor))
    secret = settings.web_session_secret
    sessions = BrowserSessions(
        access,
        secret.get_secret_value().encode() if secret else load_secret(settings.home / SESSION_KEY),
        max_age_s=settings.web_session_hours * 3600,
    )
    app = create_app(
        ApiContext(
            settings=settings,
            store=store,
            access=access,
            queue=queue,
            runs=worker if settings.serve_worker else Elsewhere(),
            supervisor=supervisor,
            models=services.models,
            authenticator=Authenticator(access),
            buckets=TokenBuckets(settings.api_rate_per_s, settings.api_rate_burst),
            live=Live(EventFeed(store.sessions), bus=store.bus, idle_s=_live_idle_s(settings)),
            hooks=hooks,
            outbound=build_outbound(settings, hooks),
            artifacts=services.artifacts,
            sessions=sessions,
            redactor=redactor,
        )
    )
    install_web(app)  # the dashboard at / and the client portal at /portal, over the API
    return app


def build_mailer(settings: Settings) -> Mailer:
    """The outbox, and through it the remote backend ``settings.mail_backend`` names (every
    mail lands in the outbox first; ``vitco.integrations.mail.relay``)."""
    from vitco.integrations.mail import OutboxMailer, RelayMailer

    outbox = OutboxMailer(settings.outbox_dir)
    if settings.mail_backend == "smtp":
        import smtplib
        import ssl

        from vitco.integrations.mail import SmtpMailer

        host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout_s
        ca = settings.smtp_ca_file
        password = settings.smtp_password
        return RelayMailer(
            outbox,
            SmtpMailer(
                lambda: smtplib.SMTP(host, port, timeout=timeout),
                starttls=settings.smtp_starttls,
                tls=ssl.create_default_context(cafile=str(ca) if ca else None),
                username=settings.smtp_username,
                password=password.get_secret_value() if password else None,
            ),
        )
    if settings.mail_backend == "sendgrid":
        import httpx

        from vitco.integrations.mail import SendGridMailer

        key = settings.sendgrid_api_key
        client = httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False, trust_env=False)
        return RelayMailer(
            outbox,
            SendGridMailer(
                client, key.get_secret_value() if key else "", settings.sendgrid_base_url
            ),
        )
    return outbox


def build_artifacts(settings: Settings) -> ArtifactStore:
    """The artifact store ``settings.storage_backend`` names: the data dir's, or an
    S3-compatible bucket through boto3 (the ``s3`` extra)."""
    from vitco.integrations.storage import LocalArtifactStore, S3ArtifactStore

    if settings.storage_backend == "local":
        return LocalArtifactStore(settings.artifacts_dir)
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - the extra is in dev
        raise ImportError("the s3 storage backend needs boto3: pip install 'vitco[s3]'") from exc
    secret = settings.s3_secret_access_key
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10),
    )
    return S3ArtifactStore(client, settings.s3_bucket or "", settings.s3_prefix)


def build_vault(
    settings: Settings, sessions: sessionmaker[Session], redactor: Redactor | None = None
) -> Vault:
    """The box that seals tenants' secrets, with the master key of ``settings`` (loaded, or in
    the embedded mode made, on first use; ``vitco.secrets.keys``); ``redactor`` learns the
    master key and every secret the vault seals or opens."""
    from vitco.secrets import MasterKey, Vault, load_master_key

    def master() -> MasterKey:
        value = settings.master_key
        key = load_master_key(
            value.get_secret_value() if value else None, settings.home, embedded=settings.embedded
        )
        if redactor is not None:
            redactor.register(key.text())
        return key

    def old() -> MasterKey | None:
        value = settings.master_key_old
        return MasterKey.parse(value.get_secret_value(), "VITCO_MASTER_KEY_OLD") if value else None

    return Vault.over(
        sessions, master, old, on_secret=redactor.register if redactor is not None else None
    )


def build_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    burst: bool = False,
    poll_s: float = 2.0,
    model: Model | None = None,
    sandbox: Sandbox | None = None,
) -> EmbeddedWorker:
    """The worker of ``vitco worker``: the queue of ``settings`` (``VITCO_QUEUE``), taken by
    ``concurrency`` threads (default ``VITCO_WORKER_CONCURRENCY``) named after this host and
    process, each job executed with the parts built here; what every run needs is made
    before it returns (``vitco.workflow.warmup``), so a worker is ready at full speed."""
    import os
    import socket

    from vitco.jobs.embedded import EmbeddedWorker, execute_job
    from vitco.jobs.queue import open_queue
    from vitco.jobs.worker import scan_orphans
    from vitco.workflow.warmup import warm

    services = build(settings, model=model, sandbox=sandbox)
    warm(services)
    store = services.store
    queue = open_queue(settings, store.sessions)
    return EmbeddedWorker(
        queue,
        store,
        lambda job: execute_job(services, job),
        name=f"{socket.gethostname()}-{os.getpid()}",
        concurrency=concurrency or settings.worker_concurrency,
        lease_s=settings.queue_lease_s,
        poll_s=poll_s,
        burst=burst,
        watch=lambda: scan_orphans(settings, store, queue),
    )


def _live_idle_s(settings: Settings) -> float:
    """How long a live stream's reader waits for a wake-up. Redis's bus hears every process's
    writes; the in-process one only this process's, so without Redis the reader also looks
    every ``POLL_S`` for what a ``vitco worker`` or the CLI wrote to the same data dir."""
    from vitco.api.live import POLL_S

    return settings.live_idle_s if settings.redis_url else min(settings.live_idle_s, POLL_S)


def build_outbound(settings: Settings, hooks: WebhookStore) -> Outbound:
    """The sender of outbound webhooks, with its own HTTP client (closed with it)."""
    import httpx

    from vitco.integrations.webhooks import Outbound

    client = httpx.Client(follow_redirects=False, trust_env=False)
    return Outbound(
        hooks,
        client,
        workers=settings.webhook_workers,
        queue_size=settings.webhook_queue_size,
        timeout_s=settings.webhook_timeout_s,
        max_attempts=settings.webhook_max_attempts,
        backoff_s=settings.webhook_backoff_s,
        allow_private=settings.webhook_allow_private,
        owns_client=True,
    )


def build_redactor(settings: Settings) -> Redactor:
    """A ``Redactor`` (``vitco.observability.redaction``) that knows every secret of
    ``settings``: each ``SecretStr`` setting (the master keys, the SMTP password, the SendGrid,
    Stripe, GitHub and S3 credentials, the metrics token, the web session secret, the CLI's API
    key, and any added later) and the provider keys of the model configuration and the
    environment. Make one per process and hand it to everything that writes (``build``,
    ``build_api``, ``configure_logging``); the vault teaches it the rest."""
    from pydantic import SecretStr

    from vitco.llm.config import load_model_config
    from vitco.observability.redaction import Redactor

    values = [getattr(settings, name) for name in type(settings).model_fields]
    return Redactor(
        [
            *load_model_config(settings).secrets(),
            *(v.get_secret_value() for v in values if isinstance(v, SecretStr)),
        ]
    )


def learn_stored_secrets(settings: Settings, store: Store, redactor: Redactor) -> None:
    """Teach ``redactor`` every tenant secret in the store (named and webhook secrets). A
    store with none needs no master key (the vault loads it on first use); one that cannot be
    opened is logged, not fatal (what it holds cannot be used either, so it cannot leak)."""
    import logging

    from vitco.secrets import SecretsError
    from vitco.store.secrets import TenantSecrets

    vault = build_vault(settings, store.sessions, redactor)
    try:
        redactor.register(*TenantSecrets(store.sessions, vault).values())
    except SecretsError as exc:
        logging.getLogger("vitco.secrets").warning("stored secrets not readable: %s", exc)


def configure_logging(
    settings: Settings, stream: TextIO | None = None, redactor: Redactor | None = None
) -> Callable[[], None]:
    """Structured log lines on ``stream`` (stderr) as ``settings`` say (``log_format``,
    ``log_level``), every line through ``redactor`` (one from :func:`build_redactor` when
    not given: the keys of the model configuration and the environment, the metrics token...;
    ``vitco.observability.logging``); returns the undo."""
    from vitco.observability.logging import configure

    return configure(
        level=settings.log_level,
        json=settings.log_format == "json",
        stream=stream,
        redactor=redactor if redactor is not None else build_redactor(settings),
    )
