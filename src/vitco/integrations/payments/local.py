"""The default: invoices (and checkouts, the same) as JSON files in the data dir, paid by a
person.

An invoice is written once per key (the file is named by it and written with an atomic
``os.replace``, like the mail outbox), with status ``open``; nothing collects money. A run
waiting for payment goes on when a manager approves its gate (``vitco approve RUN``) after
the client paid by whatever means, or when a signed payment webhook names the project.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from vitco.integrations.payments.protocol import Invoice, InvoiceRequest

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class LocalPayments:
    """Invoices in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, key: str) -> Path:
        slug = _UNSAFE.sub("-", key).strip("-.")[:80]
        return self.folder / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"

    def checkout(self, request: InvoiceRequest) -> Invoice:
        """Nothing here takes a payment: a checkout is an invoice file of its own (the key's
        ``/checkout``), paid the same ways."""
        return self.issue(request.model_copy(update={"key": f"{request.key}/checkout"}))

    def issue(self, request: InvoiceRequest) -> Invoice:
        path = self.path_for(request.key)
        if path.exists():
            return Invoice.model_validate(json.loads(path.read_text(encoding="utf-8"))["invoice"])
        invoice = Invoice(
            id=f"local-{path.stem}",
            url=path.as_uri(),
            amount_cents=request.quote.amount_cents,
            currency=request.quote.currency,
            status="open",
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"invoice": invoice.model_dump(), "request": request.model_dump()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a crash leaves no half-written invoice
        return invoice
