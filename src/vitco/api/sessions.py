"""Browser sessions: an API key pasted once becomes a signed, HttpOnly session cookie.

Browsers cannot put an ``Authorization`` header on a WebSocket or an ``EventSource``, and a
page should not keep an API key where its scripts can read it. So ``POST /login`` (the web
pages, ``vitco.web``) checks a pasted key with the ``Authenticator`` once and answers with a
cookie that carries, signed (itsdangerous, HMAC-SHA256 over the payload and its time):

- the key's id and prefix: every request reads the key's row again, so a revoked or expired
  key ends its sessions at once (the cookie never outlives its key);
- a random CSRF token, which pages render into a ``<meta>`` tag for their scripts.

The threat model, as tested in ``tests/web/test_sessions.py``:

- a forged, altered or truncated cookie (any byte of it) fails the signature: 401;
- a cookie older than ``max_age_s`` is refused: 401 (the login page asks for the key again);
- a cookie is the key's tenant and role, nothing more: another tenant's ids answer 404 and
  the permission matrix applies as to the key itself;
- a request that changes something (any method but GET/HEAD/OPTIONS) with a cookie must send
  the session's token in ``X-CSRF-Token`` (compared in constant time), else 403: a page of
  another site can make the browser send the cookie (SameSite=Strict already stops that in
  current browsers) but can never read the token;
- a WebSocket opened with a cookie must come from this server's own origin (``Origin`` equal
  to the ``Host`` it asked for), else 403: browsers do not apply CORS to WebSockets;
- the cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict``, ``Path=/`` and
  ``Secure`` when the page came over https.

A key in an ``Authorization`` header always wins over a cookie: API clients never need the
CSRF token. Logging out deletes the cookie in that browser; a copy taken before stays valid
until it expires or its key is revoked (no server-side session table to keep in step).
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode, want_bytes
from starlette.requests import HTTPConnection

from vitco.api.exceptions import CsrfRefused, Unauthorized
from vitco.api.keys import Caller
from vitco.store.access import AccessStore
from vitco.store.models import utcnow

COOKIE = "vitco_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_AGE_S = 8 * 3600
SALT = "vitco-browser-session"


@dataclass(frozen=True)
class Session:
    """A verified session: who it is and the token its mutating requests must send."""

    caller: Caller
    csrf: str


def _signer(clock: Callable[[], float]) -> type[TimestampSigner]:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

        def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:
            # only the signature's one encoding: base64 decoders ignore the unused low bits
            # of the last character, so 1 in 16 altered last characters decoded to the same
            # bytes and passed (the module docstring's "any byte of it" fails)
            try:
                canonical = base64_encode(base64_decode(sig)) == want_bytes(sig)
            except Exception:  # not base64 at all: as itsdangerous answers it
                return False
            return canonical and super().verify_signature(value, sig)

    return ClockedSigner


def load_secret(path: Path) -> bytes:
    """The signing secret kept at ``path`` (32 random bytes made on first use, mode 0600), so
    that sessions survive a restart; several servers share one through settings instead."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    if len(data) >= 32:
        return data
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_bytes(32)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(fresh)
    os.replace(tmp, path)
    return fresh


class BrowserSessions:
    """Makes and checks session cookies (see the module docstring)."""

    def __init__(
        self,
        access: AccessStore,
        secret: bytes,
        *,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("a session secret needs at least 32 bytes")
        self.access = access
        self.max_age_s = max_age_s
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT, signer=_signer(clock))

    def open(self, caller: Caller) -> tuple[str, Session]:
        """The cookie value of a new session of ``caller`` (authenticated by its key just
        now), and the session."""
        row = self.access.get_key(caller.tenant_id, caller.key_id)
        csrf = secrets.token_urlsafe(32)
        value = self._serializer.dumps({"k": row.id, "p": row.prefix, "c": csrf})
        return value, Session(caller, csrf)

    def verify(self, value: str) -> Session:
        """The session of a cookie value; ``Unauthorized`` if it is forged, expired, or its
        key is gone, revoked or expired."""
        try:
            data: Any = self._serializer.loads(value, max_age=int(self.max_age_s))
        except (BadSignature, SignatureExpired):  # SignatureExpired is a BadSignature too
            raise Unauthorized() from None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "kpc"):
            raise Unauthorized()
        row = self.access.key_by_prefix(data["p"])
        if row is None or row.id != data["k"] or row.revoked_at is not None:
            raise Unauthorized()
        if row.expires_at is not None and row.expires_at <= utcnow():
            raise Unauthorized()
        return Session(Caller(row.tenant_id, row.id, row.user_id, row.role), data["c"])

    def check(self, connection: HTTPConnection, session: Session) -> None:
        """Refuse (``CsrfRefused``) a mutating request of ``session`` without its CSRF token,
        or its WebSocket from another origin."""
        if connection.scope["type"] == "websocket":
            if not same_origin(connection):
                raise CsrfRefused("a WebSocket with a session cookie must come from this site")
        elif connection.scope.get("method", "GET") not in SAFE_METHODS:
            sent = connection.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                raise CsrfRefused(f"a request with a session cookie must send {CSRF_HEADER}")


def same_origin(connection: HTTPConnection) -> bool:
    """Whether the ``Origin`` header names the host the request was sent to."""
    origin = connection.headers.get("origin")
    host = connection.headers.get("host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()
