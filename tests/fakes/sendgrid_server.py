"""A fake SendGrid: ``POST /v3/mail/send`` over real HTTP on 127.0.0.1, in SendGrid's v3 wire
format (as documented for the Mail Send API).

- ``Authorization: Bearer <key>`` must be the key it was made with, else ``401`` with
  ``{"errors": [{"message": "The provided authorization grant is invalid, expired, or
  revoked", "field": null, "help": null}]}``;
- the body is checked as SendGrid does for the fields vitco sends: ``personalizations``
  (1..1000, each with ``to`` of objects with ``email``), ``from.email``, ``subject``,
  ``content`` (non-empty ``value``; ``text/plain`` before ``text/html``); a fault is ``400``
  with ``errors[]`` of ``message``, ``field`` and ``help``;
- an accepted mail is ``202 Accepted``, empty body, with an ``X-Message-Id`` header;
- ``fail_next(status)`` makes the next request answer that status (429 / 500 / 503 with
  SendGrid's error body).
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UNAUTHORIZED = "The provided authorization grant is invalid, expired, or revoked"


def _problems(body: Any) -> list[dict[str, Any]]:
    def error(message: str, field: str | None) -> dict[str, Any]:
        return {"message": message, "field": field, "help": None}

    if not isinstance(body, dict):
        return [error("Bad Request", None)]
    errors = []
    people = body.get("personalizations")
    if not isinstance(people, list) or not 1 <= len(people) <= 1000:
        errors.append(
            error(
                "The personalizations field is required and must have at least "
                "one personalization.",
                "personalizations",
            )
        )
    else:
        for i, p in enumerate(people):
            to = p.get("to") if isinstance(p, dict) else None
            if (
                not isinstance(to, list)
                or not to
                or not all(isinstance(t, dict) and "@" in str(t.get("email", "")) for t in to)
            ):
                errors.append(
                    error("Does not contain a valid address.", f"personalizations.{i}.to")
                )
    sender = body.get("from")
    if not isinstance(sender, dict) or "@" not in str(sender.get("email", "")):
        errors.append(
            error(
                "The from object must be provided for every email send. It is an "
                "object that requires the email parameter, but may also contain "
                "a name parameter.",
                "from.email",
            )
        )
    if not isinstance(body.get("subject"), str) or not body["subject"]:
        errors.append(error("The subject is required.", "subject"))
    content = body.get("content")
    if not isinstance(content, list) or not content:
        errors.append(
            error(
                "Unless a valid template_id is provided, the content parameter is required.",
                "content",
            )
        )
    else:
        types = [c.get("type") for c in content if isinstance(c, dict)]
        if any(not (isinstance(c, dict) and c.get("value")) for c in content):
            errors.append(
                error(
                    "The content value must be a string at least one character in length.",
                    "content.0.value",
                )
            )
        if (
            "text/html" in types
            and "text/plain" in types
            and (types.index("text/plain") > types.index("text/html"))
        ):
            errors.append(
                error(
                    "If present, text/plain content must be first, followed by any other content.",
                    "content.0.type",
                )
            )
    return errors


class FakeSendGrid:
    """Serves until ``close``; ``mails`` holds every accepted body, ``requests`` every one
    (with its headers, names in lower case)."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.mails: list[dict[str, Any]] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._fail: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                if self.path != "/v3/mail/send":
                    return self._answer(404, [{"message": "Not Found", "field": None}])
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._answer(
                        401, [{"message": UNAUTHORIZED, "field": None, "help": None}]
                    )
                if fake._fail:
                    status = fake._fail.pop(0)
                    return self._answer(status, [{"message": "try again later", "field": None}])
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._answer(400, [{"message": "Bad Request", "field": None}])
                problems = _problems(body)
                if problems:
                    return self._answer(400, problems)
                fake.mails.append(body)
                self.send_response(202)
                self.send_header("X-Message-Id", secrets.token_urlsafe(16))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _answer(self, status: int, errors: list[dict[str, Any]]) -> None:
                data = json.dumps({"errors": errors}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail_next(self, *statuses: int) -> None:
        self._fail.extend(statuses)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> FakeSendGrid:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
