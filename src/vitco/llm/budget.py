"""The per-project budget: refuse a call *before* it is made when it could cross the cap.

Peers check the budget after spending, so a loop overspends by however much it spends between
checks. Here every call is priced before it is sent (conservatively: the router's estimate is
its dearest candidate at the full output allowance) and refused with ``BudgetExceeded`` when
``spent + in flight + estimate`` would pass the cap; the runner then pauses the run as
``budget_exceeded``, resumable once the cap is raised. A call is never cut off half way.

The guarantee: spend never exceeds the cap by more than one call's actual cost (only a call
that costs more than its estimate can overshoot, e.g. a model with no known price, which is
estimated at 0). Parallel calls reserve their estimates, so two branches cannot both take the
last dollar.

``spent`` is the ledger's total for the project, read before each call. Calls this wrapper
has answered but the ledger may not show yet (the ledger writes after the answer returns)
are added from its own running total.

Place it *inside* the journal: ``JournaledModel(BudgetedModel(model, ...), ledger)``, so a
resumed run's already-paid calls are answered from the ledger and never blocked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vitco.llm.exceptions import BudgetExceeded
from vitco.llm.model import Model, ModelRequest, ModelResponse
from vitco.llm.pricing import estimate_cost

__all__ = ["BudgetedModel", "estimator_for"]

Estimate = Callable[[ModelRequest], float]


class BudgetedModel:
    """Wraps a model with a USD cap; see the module docstring."""

    def __init__(
        self,
        inner: Model,
        cap_usd: float,
        spent: Callable[[], float],
        estimate: Estimate,
    ) -> None:
        self.inner = inner
        self.cap_usd = cap_usd
        self._spent = spent
        self._estimate = estimate
        self._lock = threading.Lock()
        self._base: float | None = None  # ledger total when this wrapper first looked
        self._answered = 0.0  # actual cost of the calls answered through this wrapper
        self._reserved = 0.0  # estimates of the calls in flight

    @property
    def id(self) -> str:
        return self.inner.id

    def spent_usd(self) -> float:
        """Spend as far as this wrapper knows (ledger, plus answers not yet in it)."""
        with self._lock:
            return self._committed()

    def request(self, request: ModelRequest) -> ModelResponse:
        """Answer ``request`` if its estimate fits under the cap, else raise ``BudgetExceeded``."""
        estimate = max(0.0, self._estimate(request))
        with self._lock:
            committed = self._committed() + self._reserved
            if committed + estimate > self.cap_usd:
                raise BudgetExceeded(committed, self.cap_usd, estimate)
            self._reserved += estimate
        try:
            response = self.inner.request(request)
        finally:
            with self._lock:
                self._reserved -= estimate
        with self._lock:
            self._answered += response.cost_usd
        return response

    def _committed(self) -> float:
        ledger = self._spent()
        if self._base is None:
            self._base = ledger
        return max(ledger, self._base + self._answered)


def estimator_for(model: Model) -> Estimate:
    """The ``estimate`` of the router inside ``model``'s wrappers, else a one-model estimate.

    Wrappers (journal, recorder, budget) keep the wrapped model in ``inner``.
    """
    current: object = model
    for _ in range(16):
        estimate = getattr(current, "estimate", None)
        if callable(estimate):
            return estimate  # type: ignore[no-any-return]
        current = getattr(current, "inner", None)
        if current is None:
            break
    model_id = model.id
    return lambda request: estimate_cost(request, model_id).usd
