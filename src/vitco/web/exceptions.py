"""Errors of the web pages.

::

    WebError            a page cannot be shown (carries the HTTP status and a message)
    └── ApiFailed       the API refused a request a page made for the browser's session
                        (``status``, ``code``, ``message`` from the API's one error body)

A page answers them with the error page and the same status (401: the login page instead).
"""

from __future__ import annotations


class WebError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class ApiFailed(WebError):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.code = code
        super().__init__(status, message)
