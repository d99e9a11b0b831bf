"""Wall-clock seconds per step of a feature run, reported with it (and by the benchmark).

Spark is lazy, so a step's time is that of the actions inside it (a write, a count): each step
below ends in one, which makes the split a profile of where a night's run spends its time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings(dict[str, float]):
    """step name -> seconds (a step timed twice adds up)."""

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - started
