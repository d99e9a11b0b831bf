"""Turn simulated events into what the apps would really deliver: JSON lines in landing files.

Delivery is imperfect on purpose. Most events arrive seconds after they happen, but some arrive
days late (into a later file), some are delivered twice (at-least-once), and a share of lines is
corrupted in the ways real clients corrupt them (see ``BAD_KINDS``). Files are grouped by arrival
hour, ``learner_events/date=YYYY-MM-DD/hour=HH/events-<seed>-<part>.jsonl``, each written under a
``.tmp`` name and renamed when complete.

Lines are built column-wise with Arrow string kernels and written straight from Arrow's data
buffer, so a 50M-event day costs seconds of string work, not a Python loop per event.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from learnrec.world.simulation import DAY_MS, EVENT_TYPE_NAMES, QUIZ, WATCH, DayEvents

EVENTS_FOLDER = "learner_events"
#: Ways a line goes bad, with the rule of the contract it breaks.
BAD_KINDS = (
    "malformed_json",  # truncated or garbled bytes
    "missing_field",  # a required top-level field absent
    "wrong_type",  # a field of the wrong JSON type
    "unknown_event_type",  # event_type outside the enum
    "out_of_range",  # quiz_score outside [0, 100] or a negative / absurd watch duration
    "missing_metadata",  # a watch without its duration or module, a quiz without its score
    "future_timestamp",  # a device clock years ahead
    "unknown_learner",  # learner id that no account has
    "unknown_course",  # course id that is not in the catalogue
)


@dataclass
class DeliveryStats:
    lines: int = 0
    good_events: int = 0
    duplicates: int = 0
    late: int = 0
    bad: Counter = field(default_factory=Counter)
    files: int = 0


class LandingWriter:
    """Receives each simulated day's events and writes the lines that arrive in that day's hours."""

    def __init__(
        self,
        landing: Path,
        learner_ids: np.ndarray,
        course_ids: np.ndarray,
        *,
        seed: int,
        window_start_ms: int,
        days: int,
        duplicate_share: float,
        late_share: float,
        bad_share: float,
        max_lines_per_file: int,
        rng: np.random.Generator,
    ) -> None:
        self.root = landing / EVENTS_FOLDER
        self.learner_ids = pa.array(learner_ids)
        self.course_ids = pa.array(course_ids)
        self.seed, self.window_start_ms, self.days = seed, window_start_ms, days
        self.duplicate_share, self.late_share, self.bad_share = duplicate_share, late_share, bad_share
        self.max_lines_per_file = max_lines_per_file
        self.rng = rng
        self.window_end_ms = window_start_ms + days * DAY_MS
        self.pending: dict[int, list[tuple[DayEvents, np.ndarray]]] = defaultdict(list)
        self.stats = DeliveryStats()
        self.bad_by_day: list[dict[str, object]] = []

    def add_day(self, day: int, events: DayEvents) -> None:
        """Deliver ``events`` (which happened on simulated ``day``) and write everything arriving today."""
        rng = self.rng
        in_window = events.ts_ms < self.window_end_ms
        events = events.take(np.flatnonzero(in_window))
        n = len(events)
        lag = rng.exponential(20_000, n).astype(np.int64) + 200
        late = rng.random(n) < self.late_share
        lag[late] = rng.integers(1, 4, int(late.sum())) * DAY_MS + rng.integers(
            0, DAY_MS // 2, int(late.sum())
        )
        arrival = np.minimum(events.ts_ms + lag, self.window_end_ms - 1)
        self.stats.late += int(((arrival - self.window_start_ms) // DAY_MS > day).sum())
        dup = np.flatnonzero(rng.random(n) < self.duplicate_share)
        self.stats.duplicates += len(dup)
        self.stats.good_events += n
        events = DayEvents.concat([events, events.take(dup)])
        arrival = np.concatenate([arrival, arrival[dup] + rng.integers(1_000, 2 * 3_600_000, len(dup))])
        arrival = np.minimum(arrival, self.window_end_ms - 1)
        arrival_day = (arrival - self.window_start_ms) // DAY_MS
        for d in np.unique(arrival_day):
            idx = np.flatnonzero(arrival_day == d)
            self.pending[int(d)].append((events.take(idx), arrival[idx]))
        self._flush(day)

    def finish(self) -> DeliveryStats:
        for day in sorted(self.pending):
            self._flush(day)
        return self.stats

    # ---------------------------------------------------------------------------------------
    def _flush(self, day: int) -> None:
        parts = self.pending.pop(day, [])
        if not parts:
            return
        events = DayEvents.concat([p[0] for p in parts])
        arrival = np.concatenate([p[1] for p in parts])
        n_bad = int(self.rng.binomial(len(events), self.bad_share)) if self.bad_share else 0
        bad_idx = self.rng.choice(len(events), size=n_bad, replace=False) if n_bad else np.empty(0, np.int64)
        keep = np.ones(len(events), dtype=bool)
        keep[bad_idx] = False
        good_lines = self._lines(events.take(np.flatnonzero(keep)))
        bad_lines, kinds = self._corrupt(events.take(bad_idx))
        self.stats.bad.update(kinds)
        self.bad_by_day.append({"arrival_date": self._date(day), **Counter(kinds)})
        lines = pa.concat_arrays([good_lines, pa.array(bad_lines, pa.string())])
        arrival = np.concatenate([arrival[keep], arrival[bad_idx]])
        order = np.argsort(arrival, kind="stable")
        lines, arrival = lines.take(pa.array(order)), arrival[order]
        hours = (arrival - self.window_start_ms) // 3_600_000
        bounds = np.flatnonzero(np.diff(hours)) + 1
        for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(hours)], strict=True):
            self._write_hour(int(hours[start]), lines.slice(int(start), int(stop - start)))
        self.stats.lines += len(lines)

    def _write_hour(self, hour_index: int, lines: pa.Array) -> None:
        moment = datetime.fromtimestamp((self.window_start_ms + hour_index * 3_600_000) / 1000, UTC)
        folder = self.root / f"date={moment:%Y-%m-%d}" / f"hour={moment:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        existing = len(list(folder.glob(f"events-{self.seed}-*.jsonl")))
        for part, start in enumerate(range(0, len(lines), self.max_lines_per_file), start=existing):
            chunk = lines.slice(start, self.max_lines_per_file)
            chunk = (
                pc.binary_join_element_wise(chunk, "\n", "").combine_chunks()
                if isinstance(chunk, pa.ChunkedArray)
                else pc.binary_join_element_wise(chunk, "\n", "")
            )
            final = folder / f"events-{self.seed}-{part:04d}.jsonl"
            tmp = final.with_suffix(".tmp")
            tmp.write_bytes(_string_bytes(chunk))
            written = (moment + timedelta(minutes=59)).timestamp()
            os.utime(tmp, (written, written))  # written within the hour it simulates, like the apps' files
            os.replace(tmp, final)
            self.stats.files += 1

    def _date(self, day: int) -> str:
        return datetime.fromtimestamp((self.window_start_ms + day * DAY_MS) / 1000, UTC).strftime("%Y-%m-%d")

    # ---------------------------------------------------------------------------------------
    def _lines(self, ev: DayEvents) -> pa.Array:
        """The contract's JSON for each event, built column-wise (no trailing newline)."""
        n = len(ev)
        learner = self.learner_ids.take(pa.array(ev.learner))
        course = self.course_ids.take(pa.array(ev.course))
        etype = pa.array(EVENT_TYPE_NAMES).take(pa.array(ev.etype))
        # "YYYY-MM-DD HH:MM:SS.mmm" from Arrow's cast, then the ISO "T": ~25x faster than strftime
        ts = pc.utf8_replace_slice(
            pc.cast(pa.array(ev.ts_ms.astype("datetime64[ms]")), pa.string()), 10, 11, "T"
        )
        has_module = ev.module > 0
        module = pc.if_else(
            pa.array(has_module),
            pc.binary_join_element_wise(
                course, pc.utf8_lpad(pc.cast(pa.array(ev.module), pa.string()), 2, "0"), "-M"
            ),
            pa.nulls(n, pa.string()),
        )
        empty = pa.array(np.full(n, "", dtype=object), pa.string())
        watch_part = pc.if_else(
            pa.array(ev.watch >= 0),
            pc.binary_join_element_wise(
                ',"watch_duration_seconds":', pc.cast(pa.array(ev.watch), pa.string()), ""
            ),
            empty,
        )
        quiz_part = pc.if_else(
            pa.array(~np.isnan(ev.quiz)),
            pc.binary_join_element_wise(
                ',"quiz_score":', pc.cast(pa.array(np.round(ev.quiz.astype(np.float64), 1)), pa.string()), ""
            ),
            empty,
        )
        module_part = pc.if_else(
            pa.array(has_module), pc.binary_join_element_wise(',"module_id":"', module, '"', ""), empty
        )
        # (binary_join's null_handling="skip" drops all-null rows in this pyarrow, so: leading commas)
        meta = pc.utf8_ltrim(
            pc.binary_join_element_wise(watch_part, quiz_part, module_part, ""), characters=","
        )
        return pc.binary_join_element_wise(
            '{"learner_id":"',
            learner,
            '","event_type":"',
            etype,
            '","course_id":"',
            course,
            '","timestamp":"',
            ts,
            'Z","metadata":{',
            meta,
            "}}",
            "",
        )

    def _corrupt(self, ev: DayEvents) -> tuple[list[str], list[str]]:
        """Bad lines: each a real event broken in one of the ``BAD_KINDS`` ways."""
        rng = self.rng
        payloads = [json.loads(s) for s in self._lines(ev).to_pylist()] if len(ev) else []
        kinds = [BAD_KINDS[int(k)] for k in rng.integers(0, len(BAD_KINDS), len(payloads))]
        lines = []
        for payload, kind, etype in zip(payloads, kinds, ev.etype, strict=True):
            meta = payload["metadata"]
            if kind == "missing_field":
                del payload[("learner_id", "event_type", "course_id", "timestamp")[int(rng.integers(0, 4))]]
            elif kind == "wrong_type":
                choice = int(rng.integers(0, 3))
                if choice == 0:
                    payload["learner_id"] = int(payload["learner_id"][1:])
                elif choice == 1:
                    payload["timestamp"] = int(rng.integers(1_600_000_000, 1_800_000_000))
                else:
                    payload["event_type"], payload["metadata"] = (
                        "watch",
                        {"watch_duration_seconds": "ninety", "module_id": f"{payload['course_id']}-M01"},
                    )
            elif kind == "unknown_event_type":
                payload["event_type"] = ("hover", "like", "purchase", "WATCH")[int(rng.integers(0, 4))]
            elif kind == "out_of_range":
                if etype == QUIZ:
                    meta["quiz_score"] = float(rng.choice([-12.5, 101.0, 250.0]))
                else:
                    payload["event_type"] = "watch"
                    payload["metadata"] = {
                        "watch_duration_seconds": int(rng.choice([-30, 10_000_000])),
                        "module_id": meta.get("module_id") or f"{payload['course_id']}-M01",
                    }
            elif kind == "missing_metadata":
                payload["event_type"], payload["metadata"] = (
                    ("watch", {}) if etype != WATCH else ("quiz_score", {})
                )
            elif kind == "future_timestamp":
                payload["timestamp"] = "2099" + payload["timestamp"][4:]
            elif kind == "unknown_learner":
                payload["learner_id"] = f"L9{int(rng.integers(0, 10**8)):08d}"
            elif kind == "unknown_course":
                payload["course_id"] = f"C9{int(rng.integers(0, 10**6)):06d}"
            text = json.dumps(payload, separators=(",", ":"))
            if kind == "malformed_json":
                text = text[: int(rng.integers(5, len(text) - 5))]
            lines.append(text)
        return lines, kinds


def _string_bytes(array: pa.Array) -> bytes:
    """The concatenated bytes of a string array (each element already ends in a newline)."""
    array = array.cast(pa.string())
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return memoryview(data_buf)[offsets[0] : offsets[-1]].tobytes()
