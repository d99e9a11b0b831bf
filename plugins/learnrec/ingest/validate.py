"""Bulk validation of a batch of payloads against the learner event contract.

The rules are those of :class:`learnrec.contracts.events.LearnerEvent` (the reference, used one
payload at a time by tests and docs); here they run as one columnar SQL pass in an in-process
DuckDB over the Arrow batch, then the learner and course ids are looked up in Arrow (hash sets of
the snapshots), so that a million payloads cost seconds, whatever the warehouse. A
test holds the two implementations to the same verdict on every kind of bad input.

Each payload gets the first reason that applies, in the order of :data:`REASONS`; valid payloads
come out typed (the columns of ``raw.learner_events`` but the batch's own) with their event id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from learnrec.contracts.events import (
    FUTURE_TOLERANCE,
    MAX_WATCH_DURATION_SECONDS,
    METADATA_FIELDS,
    PAYLOAD_FIELDS,
    QUIZ_SCORE_MAX,
    QUIZ_SCORE_MIN,
    EventType,
)

#: Quarantine reasons, in the order they are checked (a payload gets the first that applies).
REASONS: dict[str, str] = {
    "malformed_json": "the payload is not valid JSON",
    "not_an_object": "the payload is JSON but not an object",
    "unexpected_field": "a field the contract does not define",
    "missing_field": "a required field is absent, null or empty",
    "wrong_type": "a field has the wrong JSON type",
    "invalid_timestamp": "timestamp is not ISO 8601 with a UTC offset",
    "unknown_event_type": "event_type is not one of the contract's values",
    "missing_metadata": "the event type needs metadata it lacks",
    "out_of_range": "a number outside its allowed range",
    "future_timestamp": "timestamp lies in the future beyond the tolerance",
    "unknown_learner": "no learner with this id",
    "unknown_course": "no course with this id",
}

# ISO 8601 date-time with a mandatory offset (what LearnerEvent accepts, minus exotic forms).
_ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_TOP = _sql_list(PAYLOAD_FIELDS)
_TOP_STRUCTURE = json.dumps(dict.fromkeys(PAYLOAD_FIELDS, "JSON"))
_META_STRUCTURE = json.dumps(dict.fromkeys(METADATA_FIELDS, "JSON"))
_META = _sql_list(METADATA_FIELDS)
_TYPES = _sql_list([str(t) for t in EventType])
_INT = "('BIGINT', 'UBIGINT')"
_NUM = "('BIGINT', 'UBIGINT', 'DOUBLE')"


def _kind(text: str) -> str:
    """The JSON type of a value's text, as ``json_type`` names it, mostly without parsing it.

    Strings, objects, arrays, booleans and null are told by their first character, and integers
    of up to 18 digits by their shape; only the rare other numbers reach ``json_type`` (which
    parses). Per-value parses were most of the validation's cost. Absent values are ``'NULL'``.
    """
    return f"""CASE
        WHEN {text} IS NULL OR {text} = 'null' THEN 'NULL'
        WHEN starts_with({text}, '"') THEN 'VARCHAR'
        WHEN starts_with({text}, '{{') THEN 'OBJECT'
        WHEN starts_with({text}, '[') THEN 'ARRAY'
        WHEN {text} IN ('true', 'false') THEN 'BOOLEAN'
        WHEN regexp_full_match({text}, '-?[0-9]{{1,18}}') THEN 'BIGINT'
        ELSE json_type({text}) END"""


def _string(text: str, kind: str) -> str:
    """The value of a JSON string: its text between the quotes unless it holds an escape."""
    return f"""CASE WHEN {kind} = 'VARCHAR' THEN CASE WHEN contains({text}, '\\') THEN json_extract_string({text}, '$')
        ELSE {text}[2:-2] END WHEN {kind} <> 'NULL' THEN {text} END"""


def _present(kind: str) -> str:
    """A metadata value given and not JSON null (null means absent, as in the contract)."""
    return f"({kind} <> 'NULL')"


_VALIDATE_SQL = f"""
WITH docs AS (
    SELECT *,
           json_valid(payload) AS is_json,
           -- valid JSON is an object exactly when its first non-blank character is a brace
           CASE WHEN json_valid(payload) AND ltrim(payload, ' ' || chr(9) || chr(10) || chr(13)) LIKE '{{%'
                THEN payload END AS doc
    FROM batch
),
parsed AS (
    -- one parse of the document: every field as the text of its JSON value (absent: NULL)
    SELECT *,
           from_json(doc, '{_TOP_STRUCTURE}') AS top,
           json_keys(doc) AS top_keys
    FROM docs
),
fields AS (
    SELECT *,
           top.learner_id::VARCHAR AS j_learner,
           top.event_type::VARCHAR AS j_type,
           top.course_id::VARCHAR AS j_course,
           top.timestamp::VARCHAR AS j_ts,
           top.metadata::VARCHAR AS j_meta,
           top.metadata IS NULL AND list_contains(top_keys, 'metadata') AS meta_is_null
    FROM parsed
),
kinds AS (
    SELECT *,
           {_kind("j_learner")} AS k_learner,
           {_kind("j_type")} AS k_type,
           {_kind("j_course")} AS k_course,
           {_kind("j_ts")} AS k_ts,
           {_kind("j_meta")} AS k_meta
    FROM fields
),
meta AS (
    SELECT *,
           CASE WHEN k_meta = 'OBJECT' THEN json_keys(j_meta) END AS meta_keys,
           CASE WHEN k_meta = 'OBJECT' THEN from_json(j_meta, '{_META_STRUCTURE}') END AS m,
           {_string("j_learner", "k_learner")} AS learner_id,
           {_string("j_type", "k_type")} AS event_type,
           {_string("j_course", "k_course")} AS course_id,
           {_string("j_ts", "k_ts")} AS ts_text
    FROM kinds
),
values_ AS (
    SELECT *,
           m.watch_duration_seconds::VARCHAR AS j_watch,
           m.quiz_score::VARCHAR AS j_quiz,
           m.module_id::VARCHAR AS j_module
    FROM meta
),
value_kinds AS (
    SELECT *, {_kind("j_watch")} AS k_watch, {_kind("j_quiz")} AS k_quiz, {_kind("j_module")} AS k_module
    FROM values_
),
typed AS (
    SELECT *,
           CASE WHEN regexp_matches(ts_text, '{_ISO_TIMESTAMP}') THEN try_cast(ts_text AS TIMESTAMPTZ) END
               AS event_at,
           CASE WHEN k_watch IN {_INT} THEN try_cast(j_watch AS DOUBLE) END AS watch_value,
           CASE WHEN k_quiz IN {_NUM} THEN try_cast(j_quiz AS DOUBLE) END AS quiz_score,
           {_string("j_module", "k_module")} AS module_id,
           NOT list_has_all([{_TOP}], top_keys) OR NOT list_has_all([{_META}], coalesce(meta_keys, []))
               AS has_extra_field
    FROM value_kinds
),
checked AS (
    SELECT typed.*,
        CASE
            WHEN NOT is_json THEN 'malformed_json'
            WHEN doc IS NULL THEN 'not_an_object'
            WHEN has_extra_field THEN 'unexpected_field'
            WHEN k_learner = 'NULL' OR k_type = 'NULL' OR k_course = 'NULL' OR k_ts = 'NULL'
                 OR (k_learner = 'VARCHAR' AND learner_id = '')
                 OR (k_course = 'VARCHAR' AND course_id = '') THEN 'missing_field'
            WHEN k_learner <> 'VARCHAR' OR k_type <> 'VARCHAR' OR k_course <> 'VARCHAR' OR k_ts <> 'VARCHAR'
                 OR (k_meta NOT IN ('NULL', 'OBJECT'))
                 OR ({_present("k_watch")} AND k_watch NOT IN {_INT})
                 OR ({_present("k_quiz")} AND k_quiz NOT IN {_NUM})
                 OR ({_present("k_module")} AND k_module <> 'VARCHAR') THEN 'wrong_type'
            WHEN event_at IS NULL THEN 'invalid_timestamp'
            WHEN event_type NOT IN ({_TYPES}) THEN 'unknown_event_type'
            WHEN (event_type = 'watch' AND (watch_value IS NULL OR module_id IS NULL OR module_id = ''))
                 OR (event_type = 'quiz_score' AND quiz_score IS NULL) THEN 'missing_metadata'
            WHEN watch_value < 0 OR watch_value > {MAX_WATCH_DURATION_SECONDS}
                 OR quiz_score < {QUIZ_SCORE_MIN} OR quiz_score > {QUIZ_SCORE_MAX}
                 OR module_id = '' THEN 'out_of_range'
            WHEN event_at > $now::TIMESTAMPTZ + INTERVAL {int(FUTURE_TOLERANCE.total_seconds())} SECOND
                THEN 'future_timestamp'
        END AS reason
    FROM typed
)
SELECT
    _row, reason,
    CASE reason
        WHEN 'malformed_json' THEN 'not valid JSON: ' || left(payload, 80)
        WHEN 'not_an_object' THEN 'expected a JSON object, got ' || lower(json_type(payload::JSON))
        WHEN 'unexpected_field' THEN 'fields not in the contract: '
            || array_to_string(list_concat(list_filter(top_keys, lambda k: k NOT IN ({_TOP})),
                                           list_filter(coalesce(meta_keys, []), lambda k: k NOT IN ({_META}))), ', ')
        WHEN 'missing_field' THEN 'required fields absent, null or empty: ' || array_to_string(list_filter(
            ['learner_id', 'event_type', 'course_id', 'timestamp'],
            lambda k, i: [k_learner, k_type, k_course, k_ts][i] = 'NULL'
                      OR [learner_id, 'x', course_id, 'x'][i] = ''), ', ')
        WHEN 'wrong_type' THEN 'wrong JSON types: ' || array_to_string(list_filter(
            ['learner_id', 'event_type', 'course_id', 'timestamp', 'metadata',
             'metadata.watch_duration_seconds', 'metadata.quiz_score', 'metadata.module_id'],
            lambda k, i: [k_learner <> 'VARCHAR', k_type <> 'VARCHAR', k_course <> 'VARCHAR',
                       k_ts <> 'VARCHAR', k_meta NOT IN ('NULL', 'OBJECT') OR meta_is_null,
                       {_present("k_watch")} AND k_watch NOT IN {_INT},
                       {_present("k_quiz")} AND k_quiz NOT IN {_NUM},
                       {_present("k_module")} AND k_module <> 'VARCHAR'][i]), ', ')
        WHEN 'invalid_timestamp' THEN 'timestamp ' || ts_text || ' is not ISO 8601 with a UTC offset'
        WHEN 'unknown_event_type' THEN 'event_type ' || event_type || ' is not one of {", ".join(str(t) for t in EventType)}'
        WHEN 'missing_metadata' THEN event_type || ' event lacks ' || CASE event_type
            WHEN 'watch' THEN 'metadata.watch_duration_seconds and metadata.module_id'
            ELSE 'metadata.quiz_score' END
        WHEN 'out_of_range' THEN CASE
            WHEN quiz_score < {QUIZ_SCORE_MIN} OR quiz_score > {QUIZ_SCORE_MAX}
                THEN 'quiz_score ' || quiz_score || ' outside [{QUIZ_SCORE_MIN:g}, {QUIZ_SCORE_MAX:g}]'
            WHEN module_id = '' THEN 'module_id is empty'
            ELSE 'watch_duration_seconds ' || watch_value::BIGINT
                 || ' outside [0, {MAX_WATCH_DURATION_SECONDS}]' END
        WHEN 'future_timestamp' THEN 'timestamp ' || ts_text || ' is later than the batch time + '
            || '{FUTURE_TOLERANCE}'
    END AS reason_detail,
    CASE WHEN reason IS NULL THEN md5(concat_ws(chr(31), learner_id, event_type, course_id,
                  epoch_us(event_at)::VARCHAR,
                  coalesce(watch_value::BIGINT::VARCHAR, ''),
                  coalesce(printf('%.4f', quiz_score), ''),
                  coalesce(module_id, ''))) END AS event_id,
    learner_id, event_type, course_id,
    event_at,
    event_at::DATE AS event_date,
    watch_value::INTEGER AS watch_duration_seconds,
    quiz_score,
    module_id,
    coalesce(j_meta, '{{}}') AS metadata,
    source, source_uri, source_partition, source_offset,
    event_at::DATE < arrived_at::DATE AS is_late
FROM checked
"""

#: Columns of :attr:`Verdict.valid` and :attr:`Verdict.quarantined`.
VALID_COLUMNS = [
    "event_id", "learner_id", "event_type", "course_id", "event_at", "event_date",
    "watch_duration_seconds", "quiz_score", "module_id", "metadata",
    "source", "source_uri", "source_partition", "source_offset", "is_late",
]  # fmt: skip
QUARANTINE_COLUMNS = [
    "payload",
    "reason",
    "reason_detail",
    "source",
    "source_uri",
    "source_partition",
    "source_offset",
]
#: The checks that need the reference data run in Arrow, on what passed every other check.
_REFERENCE_CHECKS = (
    ("learner_id", "unknown_learner", "is not a known learner"),
    ("course_id", "unknown_course", "is not a known course"),
)


@dataclass(frozen=True)
class Verdict:
    """A validated batch: typed valid events and the quarantined payloads, both in source order."""

    valid: pa.Table
    quarantined: pa.Table

    def reason_counts(self) -> dict[str, int]:
        if not self.quarantined.num_rows:
            return {}
        counts = pc.value_counts(self.quarantined.column("reason")).to_pylist()
        return {c["values"]: c["counts"] for c in counts}


def validate_payloads(
    payloads: pa.Table,
    known_learners: pa.Array,
    known_courses: pa.Array,
    now: datetime | None = None,
) -> Verdict:
    """Check every payload of a batch; see :data:`REASONS` for what is rejected and in what order."""
    now = now or datetime.now(UTC)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = pa.array(np.arange(payloads.num_rows, dtype=np.int64))
        con.register("batch", payloads.append_column("_row", rows))
        checked = con.sql(_VALIDATE_SQL, params={"now": now.astimezone(UTC)}).to_arrow_table()
    finally:
        con.close()
    checked = _check_references(checked, {"learner_id": known_learners, "course_id": known_courses})
    if not np.array_equal(checked.column("_row").to_numpy(), np.arange(payloads.num_rows)):
        checked = checked.sort_by("_row")  # DuckDB keeps a scan's order; this only guards it
    passed = pc.is_null(checked.column("reason"))
    quarantined = checked.filter(pc.invert(passed))
    quarantined = quarantined.append_column(
        "payload", payloads.column("payload").take(quarantined.column("_row")).cast(pa.string())
    )
    return Verdict(
        valid=checked.filter(passed).select(VALID_COLUMNS),
        quarantined=quarantined.select(QUARANTINE_COLUMNS),
    )


def _check_references(checked: pa.Table, known: dict[str, pa.Array]) -> pa.Table:
    """The last two reasons: ids absent from the operational snapshots (a hash lookup in Arrow)."""
    reason, detail = checked.column("reason"), checked.column("reason_detail")
    for column, code, text in _REFERENCE_CHECKS:
        ids = checked.column(column)
        unknown = pc.and_kleene(
            pc.is_null(reason), pc.invert(pc.is_in(ids, value_set=known[column].cast(pa.string())))
        )
        if not pc.any(unknown).as_py():
            continue
        reason = pc.if_else(unknown, pa.scalar(code), reason)
        detail = pc.if_else(unknown, pc.binary_join_element_wise(f"{column} ", ids, f" {text}", ""), detail)
    checked = checked.set_column(checked.schema.get_field_index("reason"), "reason", reason)
    return checked.set_column(checked.schema.get_field_index("reason_detail"), "reason_detail", detail)
