"""``POST /events/learner`` and ``POST /events/learner:batch``: the contract's checks, then the sink.

Validation is ingestion's own (:func:`learnrec.ingest.validate.validate_payloads`, the same SQL
pass, the same reason codes, against the same operational snapshots' learner and course ids), so
an accepted event is one that ingestion will land, and a refused one is refused with the reason
ingestion would have quarantined it for. A batch is all or nothing: one bad event refuses it
whole (422 listing every bad event), so a client never has to work out which part was taken.

What is handed on is each valid payload re-serialised compactly (same fields, values and order,
one line: the landing files are JSON lines); its content, hence its event id, is unchanged.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from learnrec.contracts.events import LearnerEvent, event_id, parse_payload
from learnrec.ingest.loader import KnownIds
from learnrec.ingest.payloads import payload_table
from learnrec.ingest.validate import validate_payloads
from learnrec.warehouse.sources import SourceSnapshotError, read_snapshot


@dataclass(frozen=True)
class Problem:
    index: int
    reason: str  # a key of learnrec.ingest.validate.REASONS
    detail: str


class BadRequest(ValueError):
    """The body is not a payload or a batch of them at all (400)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    event_ids: list[str]
    learner_ids: list[str]
    compact: list[str]  # one line each, what the sink receives
    problems: list[Problem]


def split_batch(body: bytes, max_events: int) -> list[str]:
    """The raw text of each element of a JSON array body (each is then judged as a payload)."""
    try:
        text = body.decode("utf-8")
        decoder = json.JSONDecoder()
        end = len(text)
        i = len(text) - len(text.lstrip())
        if not text.startswith("[", i):
            raise BadRequest("not_an_object", "a batch is a JSON array of events")
        i += 1
        items: list[str] = []
        while True:
            i += len(text[i:]) - len(text[i:].lstrip())
            if text.startswith("]", i) and not items:
                i += 1
                break
            _, stop = decoder.raw_decode(text, i)
            items.append(text[i:stop])
            if len(items) > max_events:
                raise BadRequest("too_many_events", f"a batch holds at most {max_events} events")
            i = stop + len(text[stop:]) - len(text[stop:].lstrip())
            if text.startswith(",", i):
                i += 1
                continue
            if text.startswith("]", i):
                i += 1
                break
            raise json.JSONDecodeError("expected ',' or ']'", text, i)
        if text[i:].strip() or i > end:
            raise json.JSONDecodeError("extra data after the array", text, i)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest("malformed_json", f"the body is not valid JSON: {exc}") from None
    if not items:
        raise BadRequest("missing_field", "the batch holds no events")
    return items


def check_payloads(payloads: list[str], known: KnownIds, now: datetime | None = None) -> Checked:
    """Judge each payload as ingestion does; valid ones come back with their event id."""
    table = payload_table(
        pa.array(payloads, pa.large_string()),
        source="api",
        source_uri="api",
        offsets=None,
        arrived_at=now or datetime.now(UTC),
    )
    verdict = validate_payloads(table, known.learners, known.courses, now=now)
    problems = [
        Problem(int(r["source_offset"]) - 1, r["reason"], r["reason_detail"])
        for r in verdict.quarantined.to_pylist()
    ]
    if problems:
        return Checked([], [], [], problems)
    ids = dict(
        zip(
            verdict.events.column("source_offset").to_pylist(),
            verdict.events.column("event_id").to_pylist(),
            strict=True,
        )
    )
    parsed = [parse_payload(p) for p in payloads]
    event_ids = [
        # a repeat of an earlier event in the batch: validation kept the first; same content, same id
        ids.get(i + 1) or event_id(LearnerEvent.model_validate(doc))
        for i, doc in enumerate(parsed)
    ]
    return Checked(
        event_ids=event_ids,
        learner_ids=[doc["learner_id"] for doc in parsed],
        compact=[json.dumps(doc, separators=(",", ":"), ensure_ascii=False) for doc in parsed],
        problems=[],
    )


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


__all__ = [
    "BadRequest",
    "Checked",
    "KnownIdsCache",
    "Problem",
    "SourceSnapshotError",
    "check_payloads",
    "split_batch",
]
