"""What a long-running command (``vitco serve``, ``vitco worker``) does once it is ready."""

from __future__ import annotations

import gc


def freeze_heap() -> None:
    """Set what start-up made (the modules, the app or worker, the compiled workflows) out
    of the cyclic garbage collector's walk, once a long-running process (``vitco serve``,
    ``vitco worker``) is ready: those objects live as long as the process, yet each full
    collection walked all of them, about 250,000, for 0.17 s of CPU, while a worker executed
    runs (``gc.freeze``). Reference counting still frees them; only a cycle among them, made
    before the freeze and dropped after it, would stay."""
    gc.collect()
    gc.freeze()
