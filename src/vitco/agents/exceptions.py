"""Errors of the agents.

::

    AgentError
    ├── UnknownRole      a role folder that is missing or malformed
    └── OutputInvalid    the model's answer failed validation, also after the repair attempt
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of agent errors."""


class UnknownRole(AgentError):
    def __init__(self, role: str, reason: str) -> None:
        self.role = role
        self.reason = reason
        super().__init__(f"role {role!r}: {reason}")


class OutputInvalid(AgentError):
    def __init__(self, role: str, call: str, output: str, errors: str) -> None:
        self.role = role
        self.call = call
        self.output = output
        self.errors = errors
        super().__init__(
            f"{role} answered with an invalid {output} after its repair attempt "
            f"(call {call}): {errors}"
        )
