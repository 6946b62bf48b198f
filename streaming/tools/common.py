"""Small helpers the tools share: latency percentiles, free ports, polling."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank `q`th percentile (0-100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float, every: float = 1.0,
               progress: Callable[[], object] | None = None) -> bool:
    """Polls `check` every `every` seconds (calling `progress` between polls) until it is true
    or `timeout` passes; the last poll's answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if progress:
            progress()
        time.sleep(every)
    return bool(check())
