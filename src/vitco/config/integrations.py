"""Settings of the integrations: mail, storage, secrets at rest, the git host, the deploy
target and payments (a part of ``vitco.config.Settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings


class Integrations(BaseSettings):
    """Mail, storage, secrets, git host, deploy target, payments."""

    mail_backend: Literal["outbox", "smtp", "sendgrid"] = Field(
        default="outbox",
        description="Where mails go besides the outbox (which always gets every one): "
        "'smtp' (VITCO_SMTP_*) or 'sendgrid' (VITCO_SENDGRID_*).",
    )
    mail_from: str = Field(
        default="vitco delivery <delivery@vitco.local>",
        description="The From of every mail (SendGrid wants a verified sender).",
    )
    smtp_host: str | None = Field(default=None, description="The SMTP server (mail_backend smtp).")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="The SMTP server's port.")
    smtp_starttls: bool = Field(
        default=True,
        description="Upgrade with STARTTLS before AUTH and the message, and refuse a server "
        "that does not offer it (off only for a relay on this host).",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that sign the SMTP server's certificate; default: "
        "the system's.",
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user (if any).")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    smtp_timeout_s: float = Field(default=30.0, gt=0, description="SMTP connect/read timeout.")
    sendgrid_api_key: SecretStr | None = Field(
        default=None, description="SendGrid API key (mail_backend sendgrid)."
    )
    sendgrid_base_url: str = Field(
        default="https://api.sendgrid.com",
        pattern=r"^https?://",
        description="SendGrid's API (changed only for a proxy or a test server).",
    )

    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        description="Where run artifacts are kept: 'local' (<home>/artifacts) or 's3' "
        "(an S3-compatible bucket, VITCO_S3_*; needs the s3 extra).",
    )
    s3_bucket: str | None = Field(default=None, description="The bucket (storage_backend s3).")
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="An S3-compatible server (MinIO, Ceph, R2...); default: AWS.",
    )
    s3_region: str = Field(default="us-east-1", description="The bucket's region.")
    s3_access_key_id: str | None = Field(
        default=None, description="Access key id; unset: boto3's own credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Its secret.")

    master_key: SecretStr | None = Field(
        default=None,
        description="The master key (base64 of 32 random bytes) that wraps each tenant's data "
        "key (secrets at rest, AES-256-GCM). Unset in the embedded mode: <home>/master.key, "
        "made once (mode 0600); required with a shared database (VITCO_DATABASE_URL).",
    )
    master_key_old: SecretStr | None = Field(
        default=None,
        description="The previous master key while rotating: vitco secrets rotate unwraps "
        "data keys with it and wraps them with VITCO_MASTER_KEY.",
    )

    git_host: Literal["local", "github", "gitea", "none"] = Field(
        default="local",
        description="Where runs publish their repository, one reviewed branch per task: a bare "
        "repository per project under <home>/git, GitHub (github_* settings), Gitea or "
        "Forgejo (gitea_* settings), or nowhere.",
    )
    github_token: SecretStr | None = Field(
        default=None, description="git_host=github: the token (repo scope) vitco acts with."
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        pattern=r"^https?://",
        description="git_host=github: the REST API's base URL (GitHub Enterprise: .../api/v3).",
    )
    github_url: str = Field(
        default="https://github.com",
        pattern=r"^https?://",
        description="git_host=github: the base URL git pushes to (<url>/<owner>/<repo>.git).",
    )
    github_org: str | None = Field(
        default=None,
        description="git_host=github: the organization repositories are made in; default: "
        "the token's user.",
    )
    gitea_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="git_host=gitea: the server's base URL (the API is <url>/api/v1, git "
        "pushes to <url>/<owner>/<repo>.git).",
    )
    gitea_token: SecretStr | None = Field(
        default=None,
        description="git_host=gitea: the access token vitco acts with, for tenants without "
        "their own secret gitea_token.",
    )
    gitea_org: str | None = Field(
        default=None,
        description="git_host=gitea: the organization repositories are made in; default: "
        "the token's user.",
    )

    deploy_target: Literal["local", "command", "vercel"] = Field(
        default="local",
        description="Where a delivery goes live after its checks in the sandbox: the local, "
        "supervised deployment, the user's own commands, or Vercel.",
    )
    deploy_build_command: list[str] = Field(
        default_factory=list,
        description="deploy_target=command: the build (argv, JSON list), run in the sandbox in "
        "the release's files.",
    )
    deploy_ship_command: list[str] = Field(
        default_factory=list,
        description="deploy_target=command: the ship command (argv, JSON list), run on the host "
        "with the release's .tar.gz as its last argument; it prints the URL.",
    )
    deploy_smoke_path: str | None = Field(
        default=None,
        pattern=r"^/",
        description="deploy_target command or vercel: the path checked at the URL the target "
        "answers (200 expected); default: the DevOps plan's health path, else /.",
    )
    deploy_command_timeout_s: float = Field(
        default=600.0, gt=0, description="deploy_target=command: how long the ship may take."
    )
    vercel_token: SecretStr | None = Field(
        default=None, description="deploy_target=vercel: the token deployments are made with."
    )
    vercel_api_url: str = Field(
        default="https://api.vercel.com",
        pattern=r"^https?://",
        description="deploy_target=vercel: the REST API's base URL.",
    )
    vercel_team_id: str | None = Field(
        default=None, description="deploy_target=vercel: the team (teamId) to deploy under."
    )
    vercel_url_scheme: Literal["https", "http"] = Field(
        default="https",
        description="deploy_target=vercel: the scheme of the deployment URLs Vercel answers "
        "(http only for a Vercel-compatible server without TLS).",
    )

    payments: Literal["local", "stripe"] = Field(
        default="local",
        description="Where a payment gate issues a project's invoice: a JSON file in "
        "<home>/invoices (paid by a manager's approve), or Stripe (stripe_* settings).",
    )
    stripe_api_key: SecretStr | None = Field(
        default=None,
        description="payments=stripe: the secret key (sk_...) vitco bills with, for tenants "
        "without their own secret stripe_api_key (vitco secrets set stripe_api_key).",
    )
    stripe_api_url: str = Field(
        default="https://api.stripe.com",
        pattern=r"^https?://",
        description="payments=stripe: the API's base URL.",
    )
    payment_mode: Literal["invoice", "checkout"] = Field(
        default="invoice",
        description="How the payment gate bills a project: an invoice, or a checkout page "
        "(Stripe Checkout Session; the gate opens on checkout.session.completed).",
    )
    checkout_success_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="payments=stripe, payment_mode=checkout: where Stripe sends the client "
        "after paying (Stripe requires one for a hosted checkout page).",
    )
    quote_usd_per_point: float = Field(
        default=0.05,
        ge=0,
        le=1000,
        description="The quote: USD per complexity point of the plan's tasks, added to what "
        "the models cost so far.",
    )
    quote_margin: float = Field(
        default=0.3, ge=0, le=10, description="The quote: the margin on the estimate (0.3: 30 %)."
    )
    tenant_margins: dict[str, float] = Field(
        default_factory=dict,
        description="The quote: a tenant's own margin, by tenant id (JSON object), instead of "
        "quote_margin.",
    )
    payment_currency: str = Field(
        default="usd", pattern=r"^[a-z]{3}$", description="The currency invoices are made in."
    )

    @model_validator(mode="after")
    def _mail_backend_configured(self) -> Self:
        if self.mail_backend == "smtp" and not self.smtp_host:
            raise ValueError("VITCO_MAIL_BACKEND=smtp needs VITCO_SMTP_HOST")
        if self.mail_backend == "sendgrid" and self.sendgrid_api_key is None:
            raise ValueError("VITCO_MAIL_BACKEND=sendgrid needs VITCO_SENDGRID_API_KEY")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("VITCO_STORAGE_BACKEND=s3 needs VITCO_S3_BUCKET")
        return self
