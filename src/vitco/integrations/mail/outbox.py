"""Delivery by file: each message is written as an RFC 5322 ``.eml`` file to the outbox.

The file name is derived from the idempotency key, so sending the same message twice (a step
resumed after a crash) finds the file instead of writing a second one.
"""

from __future__ import annotations

import hashlib
import os
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class OutboxMailer:
    """Writes messages to ``outbox/<key>.eml``."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def path_for(self, key: str) -> Path:
        slug = _UNSAFE.sub("-", key).strip("-")[:80]
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        return self.outbox / f"{slug}-{digest}.eml"

    def send(self, message: EmailMessage, key: str) -> str:
        path = self.path_for(key)
        if path.exists():
            return str(path)
        self.outbox.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes(policy=policy.SMTP))
        os.replace(tmp, path)  # atomic: a crash leaves no half-written mail
        return str(path)
