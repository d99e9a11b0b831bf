"""The operational snapshots' learner and course ids, for the collector's id checks."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from learnrec.ingest.loader import KnownIds
from learnrec.warehouse.sources import read_snapshot


@dataclass(frozen=True)
class KnownSets:
    """The snapshots' ids as sets: a request's few ids are looked up here, so the validator
    joins against those, not against every learner (its own lookup would hash all of them for
    each request: 0.1 s per request with 1M learners)."""

    learners: frozenset[str]
    courses: frozenset[str]

    def narrowed(self, payloads: list[str]) -> KnownIds:
        """The known ids among those the payloads name (payloads that do not parse name none;
        validation refuses them anyway)."""
        learners, courses = set(), set()
        for payload in payloads:
            try:
                doc = json.loads(payload)
            except ValueError:
                continue
            if isinstance(doc, dict):
                learners.add(doc.get("learner_id"))
                courses.add(doc.get("course_id"))
        return KnownIds(
            learners=pa.array(
                sorted(i for i in learners if isinstance(i, str) and i in self.learners), pa.string()
            ),
            courses=pa.array(
                sorted(i for i in courses if isinstance(i, str) and i in self.courses), pa.string()
            ),
        )


class KnownIdsCache:
    """The operational snapshots' learner and course ids (``<landing>/sources/*.parquet``, what the
    hourly ingest loads into ``raw``), re-read when a snapshot file changes."""

    def __init__(self, landing: Path, refresh_seconds: float) -> None:
        self.landing = landing
        self.refresh_seconds = refresh_seconds
        self.lock = threading.Lock()
        self.checked = 0.0
        self.stamp: tuple[float, ...] = ()
        self.known: KnownSets | None = None

    def _stamp(self) -> tuple[float, ...]:
        return tuple(
            (self.landing / "sources" / f"{t}.parquet").stat().st_mtime for t in ("learners", "courses")
        )

    def get(self) -> KnownSets:
        """Raises :class:`SourceSnapshotError` (or OSError) when the snapshots cannot be read."""
        with self.lock:
            if self.known is None or time.monotonic() - self.checked >= self.refresh_seconds:
                stamp = self._stamp()
                if stamp != self.stamp or self.known is None:
                    self.known = KnownSets(
                        learners=frozenset(
                            read_snapshot(self.landing, "learners").column("learner_id").to_pylist()
                        ),
                        courses=frozenset(
                            read_snapshot(self.landing, "courses").column("course_id").to_pylist()
                        ),
                    )
                    self.stamp = stamp
                self.checked = time.monotonic()
            return self.known
