"""The cost vitco hashes API keys at, outside the suite's cheap hashing.

Tests issue keys hashed at argon2id's lowest cost (``tests/conftest.py``'s session fixture
swaps the module's hasher); this checks, in a process of its own where nothing is swapped,
that the hash vitco stores is argon2id at RFC 9106's low-memory profile: a copy of the
database must stay expensive to guess from."""

from __future__ import annotations

import subprocess
import sys

from argon2 import Type, extract_parameters


def test_keys_are_hashed_with_argon2id_at_rfc_9106s_low_memory_cost() -> None:
    code = (
        "from vitco.api.keys import _hasher\nprint(_hasher.hash('vk_0123456789ab_' + 'x' * 43))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2id$"), hashed
    used = extract_parameters(hashed)
    assert used.type is Type.ID
    assert used.time_cost >= 3, used
    assert used.memory_cost >= 64 * 1024, used  # KiB
    assert used.parallelism >= 1, used
