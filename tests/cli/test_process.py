"""A long-running command's heap, frozen once it is ready (``vitco.cli.process``)."""

from __future__ import annotations

import subprocess
import sys

FROZEN = """
import gc, weakref
from vitco.cli.process import freeze_heap
import vitco.api.app, vitco.jobs.embedded  # what a server's start-up imports
freeze_heap()
frozen = gc.get_freeze_count()
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after the freeze
gone = weakref.ref(a)
del a, b
gc.collect()
print(frozen, gone() is None)
"""


def test_freezing_the_heap_sets_start_up_aside_and_still_collects_later_cycles() -> None:
    """A process of its own: freezing the test process's heap would outlive the test."""
    done = subprocess.run(
        [sys.executable, "-c", FROZEN], capture_output=True, text=True, check=True, timeout=120
    )
    frozen, collected = done.stdout.split()
    assert int(frozen) > 50_000  # the modules' objects, out of the collector's walk
    assert collected == "True"
