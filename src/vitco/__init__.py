"""vitco: a virtual IT company in a box."""

import os as _os

# Checkpoints hold only plain data (ids, lists, strings); strict msgpack makes LangGraph refuse
# to deserialize anything else from a checkpoint. LangGraph reads this once, at import, so it is
# set here, before any vitco module imports LangGraph.
_os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")

__version__ = "0.1.0"
__all__ = ["__version__"]
