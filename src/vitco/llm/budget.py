"""The per-project budget: refuse a request *before* it is sent when it could cross the cap.

Peers check the budget after spending, so a loop overspends by however much it spends between
checks. Here every request that would reach a provider (each retry, each fallback, each repair
turn: see :mod:`vitco.llm.meter`) is priced before it is sent, conservatively (its input at
three characters a token, its full output allowance), and refused with ``BudgetExceeded`` when
``spent + in flight + estimate`` would pass the cap; the runner then pauses the run as
``budget_exceeded``, resumable once the cap is raised. A request is never cut off half way.

The guarantee: spend never exceeds the cap by more than one request's actual cost (only a
request that costs more than its estimate can overshoot). Parallel requests reserve their
estimates, so two branches cannot both take the last dollar.

A model vitco has no price for would be estimated at 0, and the cap could not stop it: such a
request is refused with ``UnpricedModel`` (naming the model and both fixes: a price in
``vitco.toml``, or ``allow_unpriced``), unless the user accepted that risk.

``spent`` is the ledger's total for the project, read before each request. Requests settled
here but not yet in the ledger are added from the budget's own running total.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vitco.llm.exceptions import BudgetExceeded, UnpricedModel
from vitco.llm.pricing import Cost

__all__ = ["Budget"]


class Budget:
    """A USD cap over the requests of one project; see the module docstring."""

    def __init__(
        self, cap_usd: float, spent: Callable[[], float], *, allow_unpriced: bool = False
    ) -> None:
        self.cap_usd = cap_usd
        self.allow_unpriced = allow_unpriced
        self._spent = spent
        self._lock = threading.Lock()
        self._base: float | None = None  # ledger total when this budget first looked
        self._settled = 0.0  # actual cost of the requests settled here
        self._reserved = 0.0  # estimates of the requests in flight

    def spent_usd(self) -> float:
        """Spend as far as this budget knows (ledger, plus requests not yet in it)."""
        with self._lock:
            return self._committed()

    def admit(self, model_id: str, estimate: Cost) -> float:
        """Reserve ``estimate`` for one request to ``model_id``, or raise ``BudgetExceeded``
        (it would cross the cap) or ``UnpricedModel``; returns the amount reserved."""
        if not estimate.known and not self.allow_unpriced:
            raise UnpricedModel(model_id, self.cap_usd)
        usd = max(0.0, estimate.usd)
        with self._lock:
            committed = self._committed() + self._reserved
            if committed + usd > self.cap_usd:
                raise BudgetExceeded(committed, self.cap_usd, usd)
            self._reserved += usd
        return usd

    def settle(self, reserved: float, actual_usd: float) -> None:
        """A request is over: release its reservation, count what it cost."""
        with self._lock:
            self._reserved = max(0.0, self._reserved - reserved)
            self._settled += max(0.0, actual_usd)

    def _committed(self) -> float:
        ledger = self._spent()
        if self._base is None:
            self._base = ledger
        return max(ledger, self._base + self._settled)
