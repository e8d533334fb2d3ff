"""Errors of webhooks, in and out::

WebhookError
├── BadSignature      a delivery whose signature is missing, malformed or does not verify
│   └── StaleSignature    a timestamped one signed too long ago (``age_s``): a replay
└── UnsafeUrl         a subscriber URL vitco will not send to (``url``, ``reason``)
"""

from __future__ import annotations


class WebhookError(Exception):
    pass


class BadSignature(WebhookError):
    def __init__(self, scheme: str, reason: str) -> None:
        self.scheme = scheme
        self.reason = reason
        super().__init__(f"{scheme} signature {reason}")


class StaleSignature(BadSignature):
    def __init__(self, scheme: str, age_s: float, tolerance_s: float) -> None:
        self.age_s = age_s
        self.tolerance_s = tolerance_s
        super().__init__(
            scheme, f"is {age_s:.0f} s from now, more than the {tolerance_s:.0f} s tolerated"
        )


class UnsafeUrl(WebhookError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")
