"""The bulk SQL validation agrees with the contract's reference model, payload by payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from learnrec.contracts.events import LearnerEvent, event_id, parse_payload
from learnrec.ingest.payloads import lines_table
from learnrec.ingest.validate import CANONICAL_LAYOUT, REASONS, validate_payloads

NOW = datetime(2026, 11, 2, tzinfo=UTC)
LEARNERS = pa.array(["L1", "L2"])
COURSES = pa.array(["C1", "C2"])
BASE = {
    "learner_id": "L1",
    "event_type": "watch",
    "course_id": "C1",
    "timestamp": "2026-11-01T18:04:11.250Z",
    "metadata": {"watch_duration_seconds": 540, "module_id": "C1-M03"},
}


def verdicts(lines: list[str]):
    table = lines_table("\n".join(lines).encode() + b"\n", source="files", source_uri="t", arrived_at=NOW)
    return validate_payloads(table, LEARNERS, COURSES, NOW)


def reference(line: str) -> str | None:
    """The event id the contract model gives a payload, or None when it rejects it."""
    try:
        event = LearnerEvent.model_validate(parse_payload(line))
        event.check_not_future(NOW)
    except (ValueError, ValidationError):
        return None
    if event.learner_id not in LEARNERS.to_pylist() or event.course_id not in COURSES.to_pylist():
        return None
    return event_id(event)


# Mutations of a valid payload: each field replaced by values of every JSON type and edge value.
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 30_000),
    st.floats(-5, 105, allow_nan=False),
    st.sampled_from(
        [
            "",
            "L1",
            "L2",
            "L3",
            "C1",
            "C9",
            "watch",
            "quiz_score",
            "WATCH",
            "hover",
            "m1",
            "2026-11-01T18:04:11Z",
            "2026-11-01T18:04:11+02:00",
            "2026-11-01T18:04:11",
            "2099-01-01T00:00:00Z",
            "2026-11-02T00:10:00Z",
            "yesterday",
        ]
    ),
    # fresh objects: a shared one set at two places would make the payload circular
    st.builds(dict),
    st.builds(lambda: [1]),
)
FIELDS = [
    "learner_id",
    "event_type",
    "course_id",
    "timestamp",
    "metadata",
    "metadata.watch_duration_seconds",
    "metadata.quiz_score",
    "metadata.module_id",
    "extra",
]


def mutate(changes: list[tuple[str, object, bool]], separators: tuple[str, str] | None = None) -> str:
    """BASE with ``changes``; ``separators=(",", ":")`` writes the compact layout producers use,
    which the validation's fast lane takes when the field order is the contract's."""
    payload = json.loads(json.dumps(BASE))
    for field, value, delete in changes:
        target, key = (
            (payload, field) if "." not in field else (payload.setdefault("metadata", {}), field[9:])
        )
        if not isinstance(target, dict):
            continue
        if delete:
            target.pop(key, None)
        else:
            target[key] = value
    return json.dumps(payload, separators=separators)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(FIELDS), VALUES, st.booleans()), max_size=3),
        min_size=20,
        max_size=20,
    ),
    st.sampled_from([None, (",", ":")]),
)
def test_bulk_and_reference_agree_on_every_payload(
    batch: list[list[tuple[str, object, bool]]], separators: tuple[str, str] | None
) -> None:
    lines = [mutate(changes, separators) for changes in batch]
    verdict = verdicts(lines)
    first = dict(
        zip(
            verdict.events.column("source_offset").to_pylist(),
            verdict.events.column("event_id").to_pylist(),
            strict=True,
        )
    )
    quarantined = verdict.quarantined.column("source_offset").to_pylist()
    assert all(verdict.quarantined.column("reason").to_pylist()), "every rejection has its reason"
    expected = [reference(line) for line in lines]
    seen: set[str] = set()
    for offset, (line, event) in enumerate(zip(lines, expected, strict=True), start=1):
        if event is None:
            assert offset in quarantined and offset not in first, line
        elif event in seen:
            assert offset not in first and offset not in quarantined, (
                f"a later arrival is a duplicate: {line}"
            )
        else:
            assert first.get(offset) == event and offset not in quarantined, line
        seen.add(event)
    assert verdict.duplicates == len(lines) - len(first) - len(quarantined), "each payload once"


# Payloads near the fast lane's layout: each must get the reference's verdict, whichever lane.
COMPACT = json.dumps(BASE, separators=(",", ":"))
NEAR_CANONICAL = [
    COMPACT,
    COMPACT.replace('"L1"', '"L\\u0031"'),  # an escape: same value, general lane
    COMPACT.replace('"L1"', '"L1\t"'),  # a raw control character: not JSON
    COMPACT.replace("540", "540.0"),  # a float where an integer belongs
    COMPACT.replace("540", "5.4e2"),
    COMPACT.replace("540", "0540"),  # a leading zero: not JSON
    COMPACT.replace("540", "-0"),
    COMPACT.replace("540", "123456789012345678901"),  # beyond 18 digits
    COMPACT.replace(
        '{"watch_duration_seconds":540,"module_id":"C1-M03"}',
        '{"module_id":"C1-M03","watch_duration_seconds":540}',
    ),
    COMPACT.replace('"module_id":"C1-M03"', '"module_id":null'),
    COMPACT.replace('"module_id":"C1-M03"', '"module_id":"a,b:}\\"c"'),
    COMPACT + " ",
    COMPACT + "}",
    COMPACT.replace('"timestamp":"2026-11-01T18:04:11.250Z"', '"timestamp":"2026-13-01T18:04:11Z"'),
    json.dumps({**BASE, "event_type": "quiz_score", "metadata": {"quiz_score": 80}}, separators=(",", ":")),
    json.dumps(
        {**BASE, "event_type": "quiz_score", "metadata": {"quiz_score": 73.25, "module_id": "m"}},
        separators=(",", ":"),
    ),
    json.dumps({**BASE, "event_type": "quiz_score", "metadata": {"quiz_score": 1e-7}}, separators=(",", ":")),
    json.dumps({**BASE, "event_type": "click", "metadata": {}}, separators=(",", ":")),
]


@pytest.mark.parametrize("line", NEAR_CANONICAL)
def test_both_lanes_give_the_reference_verdict(line: str) -> None:
    verdict = verdicts([line])
    expected = reference(line)
    assert verdict.events.column("event_id").to_pylist() == ([expected] if expected else []), line
    assert verdict.quarantined.num_rows == (0 if expected else 1)
    if expected:
        metadata = json.loads(verdict.events.column("metadata")[0].as_py())
        assert metadata == json.loads(line)["metadata"], "the metadata object is kept"


def repeated(field: str, value: str, separators: tuple[str, str] | None = None) -> str:
    """BASE with ``field`` (a top-level or metadata name) given a second time, before the first."""
    item, key = separators or (", ", ": ")
    line = json.dumps(BASE, separators=separators)
    at = line.index(f'"{field}"')
    return f'{line[:at]}"{field}"{key}{json.dumps(value)}{item}{line[at:]}'


@pytest.mark.parametrize("separators", [None, (",", ":")])
@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("learner_id", "L2", "learner_id"), ("module_id", "C1-M04", "metadata.module_id")],
)
def test_a_field_given_twice_is_quarantined_in_both_lanes(
    field: str, value: str, named: str, separators: tuple[str, str] | None
) -> None:
    # Python's json would keep the last value and DuckDB the first: two different event ids
    line = repeated(field, value, separators)
    assert reference(line) is None, "the contract rejects it"
    verdict = verdicts([line])
    assert verdict.events.num_rows == 0
    assert verdict.quarantined.select(["reason", "reason_detail"]).to_pylist() == [
        {"reason": "duplicate_field", "reason_detail": f"fields given more than once: {named}"}
    ]


def test_every_rejection_has_a_documented_reason_and_detail() -> None:
    lines = [
        "{",
        "[1]",
        "",
        repeated("course_id", "C2"),
        mutate([("extra", 1, False)]),
        mutate([("course_id", None, True)]),
        mutate([("learner_id", 7, False)]),
        mutate([("timestamp", "2026-11-01", False)]),
        mutate([("event_type", "hover", False)]),
        mutate([("metadata", {}, False)]),
        mutate([("metadata.watch_duration_seconds", 99_999, False)]),
        mutate([("timestamp", "2099-01-01T00:00:00Z", False)]),
        mutate([("learner_id", "L3", False)]),
        mutate([("course_id", "C9", False)]),
    ]
    quarantined = verdicts(lines).quarantined.to_pylist()
    assert [q["reason"] for q in quarantined] == [
        "malformed_json",
        "not_an_object",
        "malformed_json",
        "duplicate_field",
        "unexpected_field",
        "missing_field",
        "wrong_type",
        "invalid_timestamp",
        "unknown_event_type",
        "missing_metadata",
        "out_of_range",
        "future_timestamp",
        "unknown_learner",
        "unknown_course",
    ]
    assert all(q["reason"] in REASONS and q["reason_detail"] for q in quarantined)
    assert [q["payload"] for q in quarantined] == lines, "the original payload is kept verbatim"


def test_a_null_id_in_a_snapshot_does_not_let_unknown_ids_through() -> None:
    table = lines_table(
        (mutate([("learner_id", "L3", False)]) + "\n" + mutate([("course_id", "C9", False)]) + "\n").encode(),
        source="files",
        source_uri="t",
        arrived_at=NOW,
    )
    with_null = validate_payloads(table, pa.array(["L1", None]), pa.array(["C1", None]), NOW)
    assert [q["reason"] for q in with_null.quarantined.to_pylist()] == ["unknown_learner", "unknown_course"]


@pytest.mark.parametrize("score", [0.1, 1 / 3, 99.99995, 12.34565, 100.0, 0])
def test_event_ids_match_the_contract_for_awkward_floats(score: float) -> None:
    line = json.dumps({**BASE, "event_type": "quiz_score", "metadata": {"quiz_score": score}})
    assert verdicts([line]).events.column("event_id").to_pylist() == [reference(line)]


def test_lines_keep_their_numbers_and_bad_bytes_stay_visible() -> None:
    table = lines_table(b'{"a":1}\n\n\xff{"b":2}\n', source="files", source_uri="f", arrived_at=NOW)
    assert table.column("source_offset").to_pylist() == [1, 2, 3]
    assert table.column("payload").to_pylist() == ['{"a":1}', "", '\\xff{"b":2}']
    assert lines_table(b"", source="files", source_uri="f", arrived_at=NOW).num_rows == 0


def test_the_fast_lane_takes_the_producers_layout_and_nothing_else() -> None:
    """The lane test above means something only if its compact lines take the fast lane."""
    lanes = duckdb.sql(
        f"SELECT regexp_full_match(line, '{CANONICAL_LAYOUT}') FROM unnest($lines) AS t(line)",
        params={"lines": [COMPACT, json.dumps(BASE), COMPACT.replace("540", "540.0"), NEAR_CANONICAL[-1]]},
    ).fetchall()
    assert [lane for (lane,) in lanes] == [True, False, False, True]
