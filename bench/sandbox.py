"""Sandbox start overhead vs a plain subprocess, measured side by side in one run.

For each command (`true`, `python -c pass`) each round runs, in turn: a plain
``subprocess.run``, the same command through ``UnsafeSandbox.run`` (prlimit + capture), through
``BwrapSandbox.run`` (what vitco really does: workspace hand-over, namespaces, mounts, uid
switch, rlimits), and a bare ``bwrap`` with the same namespaces and a ``--ro-bind / /`` (the
floor bwrap itself costs). Figures are medians over ``--rounds`` (default 20), in milliseconds:
of each runner's time, its overhead (its median minus the plain median), and, paired within a
round so that drift cancels, the median of each round's difference and ratio to that round's
plain sample (``*_paired_overhead_ms``, ``*_paired_ratio``), and of vitco's bwrap sample minus
the same round's bare bwrap (``*_bwrap_over_bare_paired_ms``: vitco's own cost above bwrap's).

    python bench/sandbox.py            # a table
    python bench/sandbox.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import logging
import operator
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from vitco.sandbox import BwrapSandbox, Limits, SandboxUnavailable, UnsafeSandbox

COMMANDS: dict[str, list[str]] = {
    "true": ["true"],
    "python": [sys.executable, "-c", "pass"],
}


def _ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _bare_bwrap(cmd: list[str]) -> list[str]:
    ns = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-net"]
    if os.geteuid() != 0:
        ns.insert(0, "--unshare-user")
    return ["bwrap", *ns, "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev",
            "--proc", "/proc", "--", *cmd]  # fmt: skip


def measure(rounds: int) -> dict[str, object]:
    logging.getLogger("vitco.sandbox").setLevel(logging.ERROR)  # the unsafe warning, once
    unsafe = UnsafeSandbox(explicit=True)
    try:
        bwrap: BwrapSandbox | None = BwrapSandbox()
        unavailable = None
    except SandboxUnavailable as exc:
        bwrap, unavailable = None, str(exc)
    limits = Limits()
    samples: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="vitco-bench-") as tmp:
        ws = Path(tmp)
        for name, cmd in COMMANDS.items():
            runners: dict[str, Callable[[], object]] = {
                "plain": partial(subprocess.run, cmd, capture_output=True, check=True),
                "unsafe": partial(unsafe.run, cmd, ws, limits),
            }
            if bwrap is not None:
                runners["bwrap"] = partial(bwrap.run, cmd, ws, limits)
                runners["bare_bwrap"] = partial(
                    subprocess.run, _bare_bwrap(cmd), capture_output=True, check=True
                )
            for fn in runners.values():  # warm caches once, not measured
                fn()
            samples[name] = {k: [] for k in runners}
            for _ in range(rounds):
                for kind, fn in runners.items():
                    samples[name][kind].append(_ms(fn))
    figures: dict[str, object] = {
        "rounds": rounds,
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "as_root": os.geteuid() == 0,
        "bwrap_unavailable": unavailable,
    }
    for name, by_kind in samples.items():
        med = {kind: statistics.median(values) for kind, values in by_kind.items()}
        for kind, value in med.items():
            figures[f"{name}_{kind}_ms"] = round(value, 2)
        plain = by_kind["plain"]
        for kind in ("unsafe", "bwrap", "bare_bwrap"):
            if kind in med:
                key = f"{name}_{kind}"
                figures[f"{key}_overhead_ms"] = round(med[kind] - med["plain"], 2)
                figures[f"{key}_paired_overhead_ms"] = _paired(by_kind[kind], plain, operator.sub)
                figures[f"{key}_paired_ratio"] = _paired(by_kind[kind], plain, operator.truediv)
        if "bwrap" in by_kind:
            above = _paired(by_kind["bwrap"], by_kind["bare_bwrap"], operator.sub)
            figures[f"{name}_bwrap_over_bare_paired_ms"] = above
    return figures


def _paired(samples: list[float], base: list[float], op: Callable[[float, float], float]) -> float:
    """The median of ``op(sample, base)`` over the rounds, each sample with its round's base."""
    return round(statistics.median(op(s, b) for s, b in zip(samples, base, strict=True)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    figures = measure(args.rounds)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"sandbox start overhead, median of {args.rounds} ({figures['machine']}, "
          f"{figures['cpus']} cpus, root={figures['as_root']})")  # fmt: skip
    if figures["bwrap_unavailable"]:
        print(f"bwrap unavailable: {figures['bwrap_unavailable']}")
    print(f"{'command':<8} {'runner':<11} {'median ms':>10} {'overhead ms':>12} "
          f"{'paired ms':>10} {'paired x':>9}")  # fmt: skip
    for name in COMMANDS:
        for kind in ("plain", "unsafe", "bare_bwrap", "bwrap"):
            key = f"{name}_{kind}_ms"
            if key in figures:
                over = figures.get(f"{name}_{kind}_overhead_ms", "")
                paired = figures.get(f"{name}_{kind}_paired_overhead_ms", "")
                ratio = figures.get(f"{name}_{kind}_paired_ratio", "")
                print(f"{name:<8} {kind:<11} {figures[key]:>10} {over!s:>12} {paired!s:>10} "
                      f"{ratio!s:>9}")  # fmt: skip
        above = figures.get(f"{name}_bwrap_over_bare_paired_ms")
        if above is not None:
            print(f"{name:<8} bwrap above bare bwrap, paired: {above} ms")


if __name__ == "__main__":
    main()
