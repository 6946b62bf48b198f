"""A per-key request rate limit for the local gateway: token buckets, answered with 429.

In AWS the same limit is API Gateway's (usage plans and throttling) and never reaches the
Lambda; locally the gateway applies it before invoking the handler, so one site's flood
cannot starve the others. The default (`CLICKSTREAM_RATE_LIMIT_RPS`, 2,000 requests/s with
a burst of twice that) leaves the demo and the benchmark (one key, ~10k events/s in
batches) untouched.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable


class RateLimiter:
    """`rate` requests per second per key, bursts of up to `burst`; keys are independent."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate limit needs rate > 0 and burst >= 1, got {rate} and {burst}")
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> float:
        """Takes one token for `key`: 0 when allowed, else the seconds until one is free."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def retry_after(wait: float) -> str:
    """Retry-After in whole seconds, at least 1: clients must not come back sooner."""
    return str(max(1, math.ceil(wait)))
