"""Webhooks in and out: signature schemes (``signing``) and the sender of outbound
deliveries (``outbound``). The inbound endpoint is ``vitco.api.hooks``; the tables and
queries are ``vitco.store.webhooks``."""

from __future__ import annotations

from vitco.integrations.webhooks.exceptions import (
    BadSignature,
    StaleSignature,
    UnsafeUrl,
    WebhookError,
)
from vitco.integrations.webhooks.outbound import Outbound, backoff, check_url
from vitco.integrations.webhooks.signing import (
    hub_signature,
    new_secret,
    standard_headers,
    timestamped_signature,
    verify_hub,
    verify_standard,
    verify_timestamped,
)

__all__ = [
    "BadSignature",
    "Outbound",
    "StaleSignature",
    "UnsafeUrl",
    "WebhookError",
    "backoff",
    "check_url",
    "hub_signature",
    "new_secret",
    "standard_headers",
    "timestamped_signature",
    "verify_hub",
    "verify_standard",
    "verify_timestamped",
]
