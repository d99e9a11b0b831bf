"""``POST /events/learner`` and ``POST /events/learner:batch``: the contract's checks, then the sink.

Validation is ingestion's own (:func:`learnrec.ingest.validate.validate_payloads`, the same SQL
pass, the same reason codes, against the same operational snapshots' learner and course ids), so
an accepted event is one that ingestion will land, and a refused one is refused with the reason
ingestion would have quarantined it for. A batch is all or nothing: one bad event refuses it
whole (422 listing every bad event), so a client never has to work out which part was taken.

What is handed on is each valid payload as it came, or re-serialised compactly when it spans
lines (same fields, values and order: the landing files are JSON lines); its content, hence its
event id, is unchanged.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from exports.api.known import KnownIdsCache
from learnrec.contracts.events import LearnerEvent, event_id, parse_payload
from learnrec.ingest.loader import KnownIds
from learnrec.ingest.payloads import payload_table
from learnrec.ingest.validate import validate_payloads


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


def check_groups(groups: list[list[str]], known: KnownIds, now: datetime | None = None) -> list[Checked]:
    """Judge the payloads of several requests in one validation pass (its cost is mostly fixed:
    one in-process DuckDB and one large query), each request on its own."""
    flat = [p for group in groups for p in group]
    table = payload_table(
        pa.array(flat, pa.large_string()),
        source="api",
        source_uri="api",
        offsets=None,
        arrived_at=now or datetime.now(UTC),
    )
    verdict = validate_payloads(table, known.learners, known.courses, now=now)
    valid = {
        r["source_offset"]: (r["event_id"], r["learner_id"])
        for r in verdict.events.select(["source_offset", "event_id", "learner_id"]).to_pylist()
    }
    problems = [
        (int(r["source_offset"]) - 1, r["reason"], r["reason_detail"])
        for r in verdict.quarantined.to_pylist()
    ]
    out, first = [], 0
    for group in groups:
        last = first + len(group)
        mine = [Problem(i - first, reason, detail) for i, reason, detail in problems if first <= i < last]
        out.append(
            Checked([], [], [], mine)
            if mine
            else _accepted(group, [valid.get(i + 1) for i in range(first, last)])
        )
        first = last
    return out


def _one_line(payload: str) -> str:
    """The payload as one JSON line: as it came when it is one, else re-serialised compactly
    (same fields, values and order: same content, same event id)."""
    if "\n" not in payload and "\r" not in payload:
        return payload
    return json.dumps(parse_payload(payload), separators=(",", ":"), ensure_ascii=False)


def _accepted(payloads: list[str], valid: list[tuple[str, str] | None]) -> Checked:
    ids, learners = [], []
    for payload, found in zip(payloads, valid, strict=True):
        if found is None:  # a repeat of an earlier event of the pass, which validation kept: same id
            event = LearnerEvent.model_validate(parse_payload(payload))
            found = (event_id(event), event.learner_id)
        ids.append(found[0])
        learners.append(found[1])
    return Checked(event_ids=ids, learner_ids=learners, compact=[_one_line(p) for p in payloads], problems=[])


def check_payloads(payloads: list[str], known: KnownIds, now: datetime | None = None) -> Checked:
    """Judge each payload as ingestion does; valid ones come back with their event id."""
    return check_groups([payloads], known, now)[0]


@dataclass
class _Waiting:
    payloads: list[str]
    done: threading.Event
    result: Checked | BaseException | None = None


class GroupValidator:
    """Requests that arrive while a validation pass runs are judged together in the next one
    (group commit, as databases do for fsync): a pass costs about as much for 1 payload as for
    1000, so concurrent small requests share it instead of queueing for one each."""

    def __init__(self, known: KnownIdsCache) -> None:
        self.known = known
        self.lock = threading.Lock()
        self.waiting: list[_Waiting] = []
        self.leading = False
        self.passes = 0  # validation passes run (requests / passes = how much grouping saves)

    def check(self, payloads: list[str]) -> Checked:
        """Raises what reading the known ids raises (the snapshots unreadable)."""
        me = _Waiting(payloads, threading.Event())
        with self.lock:
            self.waiting.append(me)
            lead, self.leading = not self.leading, True
        if lead:
            self._lead(me)
        me.done.wait()
        if isinstance(me.result, BaseException):
            raise me.result
        assert me.result is not None
        return me.result

    def _lead(self, me: _Waiting) -> None:
        """Run passes until this request's own is done, then hand the lead to a waiting one."""
        while not me.done.is_set():
            with self.lock:
                group, self.waiting = self.waiting, []
                self.passes += 1
            try:
                sets = self.known.get()
                results: list[Checked | BaseException] = list(
                    check_groups(
                        [w.payloads for w in group], sets.narrowed([p for w in group for p in w.payloads])
                    )
                )
            except Exception as exc:  # the snapshots cannot be read: every waiter learns why
                results = [exc] * len(group)
            for waiting, result in zip(group, results, strict=True):
                waiting.result = result
                waiting.done.set()
        with self.lock:
            if self.waiting:
                self._hand_over()
            else:
                self.leading = False

    def _hand_over(self) -> None:
        successor = self.waiting[0]
        threading.Thread(target=self._lead, args=(successor,), name="learnrec-validate", daemon=True).start()
