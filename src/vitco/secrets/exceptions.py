"""Errors of secrets at rest.

::

    SecretsError
    ├── MasterKeyError    no usable master key: unset where one is required, not 32 bytes of
    │                     base64, or a key file others may read (carries source, problem; ``fix``)
    ├── WrongMasterKey    a data key was wrapped by a master key that was not given
    │                     (carries tenant_id, master_id; ``fix`` names VITCO_MASTER_KEY_OLD)
    ├── SecretTampered    a sealed value or a wrapped key fails authentication: a flipped byte,
    │                     a value moved to another row or tenant, a key that is not the one that
    │                     sealed it (carries tenant_id, name)
    └── MalformedSecret   a stored value that is not ``v1:`` nor ``plain:`` text (carries
                          tenant_id, name, problem)
"""

from __future__ import annotations


class SecretsError(Exception):
    """Base of the errors of secrets at rest."""


class MasterKeyError(SecretsError):
    def __init__(self, source: str, problem: str, fix: str) -> None:
        self.source = source
        self.problem = problem
        self.fix = fix
        super().__init__(f"master key ({source}): {problem}")


class WrongMasterKey(SecretsError):
    def __init__(self, tenant_id: str, master_id: str) -> None:
        self.tenant_id = tenant_id
        self.master_id = master_id
        self.fix = (
            f"the data key of tenant {tenant_id!r} is wrapped by master key {master_id}: set "
            "VITCO_MASTER_KEY to that key, or give it as VITCO_MASTER_KEY_OLD and run "
            "vitco secrets rotate"
        )
        super().__init__(
            f"tenant {tenant_id!r}: its data key is wrapped by master key {master_id}, "
            "which is not configured"
        )


class SecretTampered(SecretsError):
    def __init__(self, tenant_id: str, name: str) -> None:
        self.tenant_id = tenant_id
        self.name = name
        super().__init__(
            f"secret {name!r} of tenant {tenant_id!r} fails authentication: it was altered, "
            "moved from another row, or sealed under another key; it is not used"
        )


class MalformedSecret(SecretsError):
    def __init__(self, tenant_id: str, name: str, problem: str) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.problem = problem
        super().__init__(f"secret {name!r} of tenant {tenant_id!r}: {problem}")
