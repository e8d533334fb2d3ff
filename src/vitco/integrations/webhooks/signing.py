"""Webhook signatures: HMAC-SHA256 over the exact bytes of the body, compared in constant
time. Three schemes, each the one its senders use:

- ``hub`` (GitHub's ``X-Hub-Signature-256``): ``sha256=<hex HMAC(secret, body)>``. No
  timestamp, and the delivery id is not signed: the stored delivery id stops a replay of the
  same delivery.
- ``timestamped`` (Stripe's ``Stripe-Signature``): ``t=<unix seconds>,v1=<hex HMAC(secret,
  "<t>.<body>")>``, more than one ``v1`` allowed (a secret being rolled).
- ``standard`` (Standard Webhooks, standardwebhooks.com: what ``/v1/hooks/generic`` takes and
  what vitco signs its own deliveries with): headers ``webhook-id``, ``webhook-timestamp`` and
  ``webhook-signature: v1,<base64 HMAC(key, "<id>.<timestamp>.<body>")>`` (several, space
  separated), the key the base64 after ``whsec_`` in the secret. The id is signed: a captured
  delivery cannot be posted again under a new id, and the same id is accepted once.

A timestamp farther than ``tolerance_s`` from now is refused (``StaleSignature``): a captured
delivery cannot be played back later. Receivers of vitco's deliveries can check them with any
Standard Webhooks library, or ``verify_standard``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from vitco.integrations.webhooks.exceptions import BadSignature, StaleSignature

TOLERANCE_S = 300.0
"""Stripe's default: how far a timestamped signature may be from now."""


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + _mac(secret, body)


def verify_hub(secret: str, body: bytes, header: str | None, scheme: str = "hub") -> None:
    """Raise ``BadSignature`` unless ``header`` is ``hub_signature(secret, body)``."""
    if not header:
        raise BadSignature(scheme, "is missing")
    algorithm, sep, digest = header.strip().partition("=")
    if not sep or algorithm != "sha256":
        raise BadSignature(scheme, "is not of the form sha256=<hex>")
    if not hmac.compare_digest(digest.encode(), _mac(secret, body).encode()):
        raise BadSignature(scheme, "does not match the body")


def timestamped_signature(secret: str, body: bytes, t: int) -> str:
    return f"t={t},v1=" + _mac(secret, f"{t}.".encode() + body)


def verify_timestamped(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
    scheme: str = "timestamped",
) -> int:
    """Check a ``t=...,v1=...`` header against ``body``; return its ``t``. Raises
    ``BadSignature`` (``StaleSignature`` when it verifies but is too old or too new)."""
    if not header:
        raise BadSignature(scheme, "is missing")
    stamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep and name == "t":
            stamps.append(value)
        elif sep and name == "v1":
            signatures.append(value)
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise BadSignature(scheme, "is not of the form t=<seconds>,v1=<hex>")
    t = int(stamps[0])
    expected = _mac(secret, f"{t}.".encode() + body).encode()
    if not any(hmac.compare_digest(sig.encode(), expected) for sig in signatures):
        raise BadSignature(scheme, "does not match the body")
    if abs(now - t) > tolerance_s:
        raise StaleSignature(scheme, now - t, tolerance_s)
    return t


def new_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _standard_key(secret: str) -> bytes:
    """The HMAC key of a secret: the bytes its ``whsec_`` base64 names, else its own bytes
    (a secret someone typed in)."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_") + "==")
        except binascii.Error:
            pass
    return secret.encode()


def _standard_mac(secret: str, msg_id: str, t: int, body: bytes) -> str:
    message = f"{msg_id}.{t}.".encode() + body
    digest = hmac.new(_standard_key(secret), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def standard_headers(secret: str, msg_id: str, t: int, body: bytes) -> dict[str, str]:
    """The three headers of a Standard Webhooks delivery."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(t),
        "webhook-signature": "v1," + _standard_mac(secret, msg_id, t, body),
    }


def verify_standard(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
    scheme: str = "standard",
) -> str:
    """Check a Standard Webhooks delivery (``headers`` looked up in lower case); return its
    id. Raises ``BadSignature`` (``StaleSignature`` when it verifies but is too old or new)."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise BadSignature(scheme, "is missing (webhook-id, webhook-timestamp, webhook-signature)")
    if not stamp.isdigit() or len(msg_id) > 200:
        raise BadSignature(scheme, "has a malformed webhook-timestamp or webhook-id")
    t = int(stamp)
    expected = _standard_mac(secret, msg_id, t, body).encode()
    offered = [sig.partition(",") for sig in signatures.split()]
    if not any(v == "v1" and hmac.compare_digest(mac.encode(), expected) for v, _, mac in offered):
        raise BadSignature(scheme, "does not match the body")
    if abs(now - t) > tolerance_s:
        raise StaleSignature(scheme, now - t, tolerance_s)
    return msg_id
