"""Where vitco and its Python are installed, left out of what clients read.

A run's error event carries the traceback of the defect (the operator's evidence), and every
role reads a run's events and log, the client's included: the traceback's file names told a
client where the service keeps its Python, its packages and its code (``/srv/vitco/.venv/lib
/python3.11/site-packages/...``). ``without_install`` writes those prefixes as placeholders:
vitco's own files as ``vitco/...``, installed packages as ``<site-packages>/...``, the
interpreter's tree as ``<python>/...``; the rest of a traceback (modules, lines, code) stays,
which is what a reader needs. The data dir is the runtime's to leave out
(``Runtime.without_home``), as it differs by settings, not by installation.
"""

from __future__ import annotations

import functools
import site
import sys
from pathlib import Path

import vitco


@functools.cache
def install_prefixes() -> tuple[tuple[str, str], ...]:
    """(prefix, placeholder), longest prefix first, so the most specific one applies."""
    found: dict[str, str] = {str(Path(vitco.__file__).resolve().parent.parent): ""}
    for packages in [*site.getsitepackages(), site.getusersitepackages()]:
        found.setdefault(packages, "<site-packages>")
    for prefix in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix):
        found.setdefault(prefix, "<python>")
    usable = {p.rstrip("/"): label for p, label in found.items() if p.rstrip("/")}
    return tuple(sorted(usable.items(), key=lambda item: -len(item[0])))


def without_install(text: str) -> str:
    """``text`` with the installation's paths written as placeholders (module docstring)."""
    for prefix, label in install_prefixes():
        if prefix in text:
            text = text.replace(prefix + "/", f"{label}/" if label else "")
    return text
