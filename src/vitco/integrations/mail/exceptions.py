"""Errors of mail delivery (vendor errors are translated into these inside each adapter).

::

    MailError
    ├── MailRejected      the server or vendor refused this message or these credentials:
    │                     sending it again as it is will not help (carries backend, status, detail)
    ├── MailUnavailable   the server or vendor could not be reached or failed for now: try
    │                     later (carries backend, detail)
    ├── MailNotRelayed    the mail is in the outbox but the remote backend failed (carries
    │                     path, the outbox file, and cause, the MailRejected/MailUnavailable)
    └── TemplateError     a mail template is missing a value or failed to render (carries
                          kind, detail)

Every mail is in the outbox before a remote backend is tried, so neither error loses one.
"""

from __future__ import annotations


class MailError(Exception):
    """Base of mail errors."""


class MailRejected(MailError):
    def __init__(self, backend: str, status: int | None, detail: str) -> None:
        self.backend = backend
        self.status = status
        self.detail = detail
        code = f" ({status})" if status is not None else ""
        super().__init__(f"{backend} refused the mail{code}: {detail}")


class MailUnavailable(MailError):
    def __init__(self, backend: str, detail: str) -> None:
        self.backend = backend
        self.detail = detail
        super().__init__(f"{backend} is unavailable: {detail}")


class MailNotRelayed(MailError):
    def __init__(self, path: str, cause: MailError) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"the mail is in the outbox ({path}) but was not sent: {cause}")


class TemplateError(MailError):
    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"mail template {kind!r}: {detail}")
