"""The pieces without a sandbox: limit attribution and the TCP -> unix socket bridge."""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

import pytest

from vitco.sandbox import Bridge, Limits
from vitco.sandbox.limits import Observation, limit_hit


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (Observation(None, signal.SIGKILL, b"", 0.1, output_hit=True), "output"),
        (Observation(None, signal.SIGKILL, b"", 0.1, wall_hit=True), "wall"),
        (Observation(None, signal.SIGXCPU, b"", 5.0), "cpu"),
        (Observation(None, signal.SIGKILL, b"", 7.0), "cpu"),  # past the soft limit: hard kill
        (Observation(None, signal.SIGKILL, b"", 0.5), None),  # killed by someone else
        (Observation(None, signal.SIGXFSZ, b"", 0.1), "file_size"),
        (Observation(1, None, b"OSError: [Errno 27] File too large", 0.1), "file_size"),
        (Observation(1, None, b"Traceback...\nMemoryError\n", 0.1), "memory"),
        (Observation(1, None, b"BlockingIOError: [Errno 11] Resource temp", 0.1), "processes"),
        (Observation(2, None, b"sh: 1: Cannot fork\n", 0.1), "processes"),
        (Observation(1, None, b"OSError: [Errno 24] Too many open files", 0.1), "open_files"),
        (Observation(0, None, b"MemoryError was expected and handled", 0.1), None),
        (Observation(1, None, b"AssertionError: 1 != 2", 0.1), None),
    ],
)
def test_limit_attribution(outcome: Observation, expected: str | None) -> None:
    assert limit_hit(Limits(cpu_s=5), outcome) == expected


def _echo_server(path: Path) -> socket.socket:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                conn.sendall(data[::-1])  # replies after the client's half-close

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_bridge_forwards_and_passes_half_close(tmp_path: Path) -> None:
    sock_path = tmp_path / "app.sock"
    bridge = Bridge(lambda s: s.connect(str(sock_path)))
    assert bridge.url == f"http://127.0.0.1:{bridge.port}"
    # Nothing listens yet: the connection is accepted, then closed.
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=5) as early:
        assert early.recv(10) == b""
    srv = _echo_server(sock_path)
    try:
        payload = b"x" * 200_000 + b"end"
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", bridge.port), timeout=5) as c:
                c.sendall(payload)
                c.shutdown(socket.SHUT_WR)
                got = b""
                while chunk := c.recv(65536):
                    got += chunk
            assert got == payload[::-1]
    finally:
        bridge.close()
        srv.close()
    bridge.close()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", bridge.port), timeout=2)


def test_a_disk_measurement_that_waited_for_a_core_does_not_put_the_next_one_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next look is 20x the last one's CPU time away (0.2 s at least): a measurement that
    took long because the machine was busy (here: asleep, using no CPU) cost little, so the
    next one comes as soon as ever. Paced by the time it took, a loaded machine's measurement
    put the next one seconds off, and a command wrote 200 MiB past a 16 MiB cap meanwhile."""
    import os
    import time

    from vitco.sandbox import fs

    def slow_usage(fds: object) -> int:
        time.sleep(0.3)  # waiting, not computing
        return 1

    monkeypatch.setattr(fs, "disk_usage", slow_usage)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        watch = fs.DiskWatch([fd], limit_bytes=16 << 20)
        assert not watch.exceeded(force=True)
        assert watch._next - time.monotonic() <= 0.25  # paced at 20 x 0.3 s: 5 s away
    finally:
        os.close(fd)
