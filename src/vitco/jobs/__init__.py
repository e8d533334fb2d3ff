"""Jobs: who executes which run; picking up runs whose executor died."""

from vitco.jobs.worker import Recovered, orphaned_runs, recover

__all__ = ["Recovered", "orphaned_runs", "recover"]
