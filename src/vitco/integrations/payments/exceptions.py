"""Errors of payments.

::

    PaymentError
    ├── BadQuote          an amount, currency or margin that cannot be billed (carries which)
    └── PaymentRefused    the payment service refused or failed (carries its code and message)
"""

from __future__ import annotations


class PaymentError(Exception):
    """Base of payment errors."""


class BadQuote(PaymentError):
    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"cannot bill {field}={value!r}: {reason}")


class PaymentRefused(PaymentError):
    def __init__(self, service: str, action: str, code: str | None, message: str) -> None:
        self.service = service
        self.action = action
        self.code = code
        self.message = message
        super().__init__(f"{service}: {action} failed ({code or 'error'}): {message[:500]}")
