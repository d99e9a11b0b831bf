"""Bulk validation of a batch of payloads against the learner event contract.

The rules are those of :class:`learnrec.contracts.events.LearnerEvent` (the reference, used one
payload at a time by tests and docs); here they run as one columnar SQL pass in an in-process
DuckDB over the Arrow batch, the learner and course id checks included (a join with the
snapshots' ids), so that a million payloads cost seconds, whatever the warehouse. A test holds
the two implementations to the same verdict on every kind of bad input.

Two lanes, one set of checks. Producers write compact JSON in the contract's field order (the
generator, the apps' serialisers): a payload in exactly that layout (:data:`CANONICAL_LAYOUT`,
one regular expression) is a JSON object holding only the contract's fields, each of its JSON
type and without escapes, so one typed parse reads its values with no type to tell apart. Every
other payload takes the general lane: a JSON parse that tells each value's type. Both
lanes feed the same columns to the same checks (enums, metadata, ranges, timestamps, ids), so a
payload's verdict cannot depend on its lane; the property test runs both layouts against the
reference.

Each payload gets the first reason that applies, in the order of :data:`REASONS`. Valid events
come out typed (the columns of ``raw.learner_events`` but the batch's own) with their event id,
deduplicated within the batch in SQL (the first arrival of an id wins), so that only the rows the
warehouse needs leave DuckDB; the original payload is kept only for quarantined rows.
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
from learnrec.privacy import ErasedLearners, learner_hash_sql
from learnrec.settings import Settings

#: The setting's default (``LEARNREC_INGEST_MAX_FIELD_CHARS``), for callers without settings.
MAX_FIELD_CHARS = Settings.model_fields["ingest_max_field_chars"].default

#: Quarantine reasons, in the order they are checked (a payload gets the first that applies).
REASONS: dict[str, str] = {
    "malformed_json": "the payload is not valid JSON",
    "not_an_object": "the payload is JSON but not an object",
    "duplicate_field": "a field name given twice in the payload or its metadata",
    "unexpected_field": "a field the contract does not define",
    "missing_field": "a required field is absent, null or empty",
    "wrong_type": "a field has the wrong JSON type",
    "too_large": "a payload or one of its text values is longer than its limit",
    "invalid_timestamp": "timestamp is not ISO 8601 with a UTC offset",
    "unknown_event_type": "event_type is not one of the contract's values",
    "missing_metadata": "the event type needs metadata it lacks",
    "out_of_range": "a number outside its allowed range",
    "future_timestamp": "timestamp lies in the future beyond the tolerance",
    "erased_learner": "the learner asked to be erased (or their retention expired): never landed again",
    "unknown_learner": "no learner with this id",
    "unknown_course": "no course with this id",
}

# ISO 8601 date-time with a mandatory offset (what LearnerEvent accepts, minus exotic forms).
_ISO_TIMESTAMP_BODY = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}(:?\d{2})?)"
_ISO_TIMESTAMP = f"^{_ISO_TIMESTAMP_BODY}$"


def _canonical_layout() -> str:
    """The fast lane's layout: ``json.dumps(payload, separators=(",", ":"))`` of a payload whose
    fields come in contract order, strings without escapes or control characters, the timestamp
    in ISO shape, metadata members in :data:`METADATA_FIELDS` order with JSON numbers of the
    accepted kinds (integers of up to 18 digits, decimals without exponent)."""
    text = r'"[^"\\\x00-\x1f]*"'
    integer = r"-?(0|[1-9][0-9]{0,17})"
    members = {
        "watch_duration_seconds": integer,
        "quiz_score": rf"{integer}(\.[0-9]{{1,17}})?",
        "module_id": text,
    }
    # each metadata member optional, in order, comma-separated: a|a,b|a,c|a,b,c|b|b,c|c or none
    w, q, m = (f'"{name}":({value})' for name, value in members.items())
    metadata = rf"\{{({w}(,{q})?(,{m})?|{q}(,{m})?|{m})?\}}"
    top = dict(zip(PAYLOAD_FIELDS, (text, text, text, f'"{_ISO_TIMESTAMP_BODY}"', metadata), strict=True))
    return r"\{" + ",".join(f'"{name}":{value}' for name, value in top.items()) + r"\}"


#: Payloads in this layout skip the general parse (see the module docstring).
CANONICAL_LAYOUT = _canonical_layout()


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


def _lanes(fast: str, general: str) -> str:
    """A value from the fast lane's cut or the general lane's parse (only one of them runs)."""
    return f"CASE WHEN canonical THEN {fast} ELSE {general} END"


#: The fast lane's parse: every value as text (a canonical payload's strings have no escapes and
#: its numbers are JSON numbers of the accepted kinds, so no type needs telling apart).
_CANONICAL_STRUCTURE = json.dumps(
    {**dict.fromkeys(PAYLOAD_FIELDS[:-1], "VARCHAR"), "metadata": dict.fromkeys(METADATA_FIELDS, "VARCHAR")}
)


#: The lengths of an event's text values, for the per-field size limit (``$max_field``).
_TEXT_LENGTHS = ", ".join(
    f"coalesce(length({c}), 0)" for c in ("learner_id", "event_type", "course_id", "ts_text", "module_id")
)


def _present(kind: str) -> str:
    """A metadata value given and not JSON null (null means absent, as in the contract)."""
    return f"({kind} <> 'NULL')"


_CHECK_SQL = f"""
WITH lanes AS (
    SELECT *, regexp_full_match(payload, '{CANONICAL_LAYOUT}') AS canonical FROM batch
),
docs AS (
    SELECT *,
           CASE WHEN canonical THEN TRUE ELSE json_valid(payload) END AS is_json,
           -- valid JSON is an object exactly when its first non-blank character is a brace
           CASE WHEN NOT canonical AND json_valid(payload)
                     AND ltrim(payload, ' ' || chr(9) || chr(10) || chr(13)) LIKE '{{%'
                THEN payload END AS doc,
           from_json(CASE WHEN canonical THEN payload END, '{_CANONICAL_STRUCTURE}') AS c
    FROM lanes
),
parsed AS (
    -- general lane: one parse of the document, every field as the text of its JSON value
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
           -- a canonical payload's metadata object is its text from the key to the last brace
           CASE WHEN NOT canonical THEN top.metadata::VARCHAR
                WHEN c.metadata IS NOT DISTINCT FROM {{'watch_duration_seconds': NULL, 'quiz_score': NULL, 'module_id': NULL}}
                THEN '{{}}'
                ELSE payload[strpos(payload, ',"metadata":') + 12:-2] END AS j_meta,
           top.metadata IS NULL AND list_contains(top_keys, 'metadata') AS meta_is_null
    FROM parsed
),
kinds AS (
    SELECT *,
           {_lanes("'VARCHAR'", _kind("j_learner"))} AS k_learner,
           {_lanes("'VARCHAR'", _kind("j_type"))} AS k_type,
           {_lanes("'VARCHAR'", _kind("j_course"))} AS k_course,
           {_lanes("'VARCHAR'", _kind("j_ts"))} AS k_ts,
           {_lanes("'OBJECT'", _kind("j_meta"))} AS k_meta
    FROM fields
),
meta AS (
    SELECT *,
           CASE WHEN NOT canonical AND k_meta = 'OBJECT' THEN json_keys(j_meta) END AS meta_keys,
           CASE WHEN NOT canonical AND k_meta = 'OBJECT' THEN from_json(j_meta, '{_META_STRUCTURE}') END AS m,
           {_lanes("c.learner_id", _string("j_learner", "k_learner"))} AS learner_id,
           {_lanes("c.event_type", _string("j_type", "k_type"))} AS event_type,
           {_lanes("c.course_id", _string("j_course", "k_course"))} AS course_id,
           {_lanes("c.timestamp", _string("j_ts", "k_ts"))} AS ts_text
    FROM kinds
),
values_ AS (
    SELECT *,
           {_lanes("c.metadata.watch_duration_seconds", "m.watch_duration_seconds::VARCHAR")} AS j_watch,
           {_lanes("c.metadata.quiz_score", "m.quiz_score::VARCHAR")} AS j_quiz,
           m.module_id::VARCHAR AS j_module
    FROM meta
),
value_kinds AS (
    SELECT *,
           {_lanes("CASE WHEN j_watch IS NULL THEN 'NULL' ELSE 'BIGINT' END", _kind("j_watch"))} AS k_watch,
           {_lanes("CASE WHEN j_quiz IS NULL THEN 'NULL' ELSE 'DOUBLE' END", _kind("j_quiz"))} AS k_quiz,
           {_lanes("CASE WHEN c.metadata.module_id IS NULL THEN 'NULL' ELSE 'VARCHAR' END", _kind("j_module"))} AS k_module
    FROM values_
),
typed AS (
    SELECT *,
           -- the canonical layout already has the ISO shape
           CASE WHEN canonical OR regexp_matches(ts_text, '{_ISO_TIMESTAMP}') THEN try_cast(ts_text AS TIMESTAMPTZ) END
               AS event_at,
           CASE WHEN k_watch IN {_INT} THEN try_cast(j_watch AS DOUBLE) END AS watch_value,
           CASE WHEN k_quiz IN {_NUM} THEN try_cast(j_quiz AS DOUBLE) END AS quiz_score,
           {_lanes("c.metadata.module_id", _string("j_module", "k_module"))} AS module_id,
           NOT canonical AND (NOT list_has_all([{_TOP}], top_keys)
                              OR NOT list_has_all([{_META}], coalesce(meta_keys, []))) AS has_extra_field,
           -- the canonical layout names each field once by construction
           NOT canonical AND (len(top_keys) > len(list_distinct(top_keys))
                              OR coalesce(len(meta_keys) > len(list_distinct(meta_keys)), FALSE))
               AS has_repeated_field
    FROM value_kinds
),
checked AS (
    SELECT typed.*,
        CASE
            WHEN NOT is_json THEN 'malformed_json'
            WHEN NOT canonical AND doc IS NULL THEN 'not_an_object'
            WHEN has_repeated_field THEN 'duplicate_field'
            WHEN has_extra_field THEN 'unexpected_field'
            WHEN k_learner = 'NULL' OR k_type = 'NULL' OR k_course = 'NULL' OR k_ts = 'NULL'
                 OR (k_learner = 'VARCHAR' AND learner_id = '')
                 OR (k_course = 'VARCHAR' AND course_id = '') THEN 'missing_field'
            WHEN k_learner <> 'VARCHAR' OR k_type <> 'VARCHAR' OR k_course <> 'VARCHAR' OR k_ts <> 'VARCHAR'
                 OR (k_meta NOT IN ('NULL', 'OBJECT'))
                 OR ({_present("k_watch")} AND k_watch NOT IN {_INT})
                 OR ({_present("k_quiz")} AND k_quiz NOT IN {_NUM})
                 OR ({_present("k_module")} AND k_module <> 'VARCHAR') THEN 'wrong_type'
            WHEN list_max([{_TEXT_LENGTHS}]) > $max_field THEN 'too_large'
            WHEN event_at IS NULL THEN 'invalid_timestamp'
            WHEN event_type NOT IN ({_TYPES}) THEN 'unknown_event_type'
            WHEN (event_type = 'watch' AND (watch_value IS NULL OR module_id IS NULL OR module_id = ''))
                 OR (event_type = 'quiz_score' AND quiz_score IS NULL) THEN 'missing_metadata'
            WHEN watch_value < 0 OR watch_value > {MAX_WATCH_DURATION_SECONDS}
                 OR quiz_score < {QUIZ_SCORE_MIN} OR quiz_score > {QUIZ_SCORE_MAX}
                 OR module_id = '' THEN 'out_of_range'
            WHEN event_at > $now::TIMESTAMPTZ + INTERVAL {int(FUTURE_TOLERANCE.total_seconds())} SECOND
                THEN 'future_timestamp'
            -- the snapshots' ids, last: only what passed every other check is looked up (a null
            -- id in a snapshot would make NOT IN unknown, and the event pass: leave nulls out)
            {{erased_check}}
            WHEN learner_id NOT IN (SELECT id FROM known_learners WHERE id IS NOT NULL) THEN 'unknown_learner'
            WHEN course_id NOT IN (SELECT id FROM known_courses WHERE id IS NOT NULL) THEN 'unknown_course'
        END AS reason
    FROM typed
)
SELECT
    _row, reason,
    CASE reason
        WHEN 'malformed_json' THEN 'not valid JSON: ' || left(payload, 80)
        WHEN 'not_an_object' THEN 'expected a JSON object, got ' || lower(json_type(payload::JSON))
        WHEN 'duplicate_field' THEN 'fields given more than once: ' || array_to_string(list_distinct(list_concat(
            list_filter(top_keys, lambda k, i: list_position(top_keys, k) < i),
            list_transform(list_filter(coalesce(meta_keys, []), lambda k, i: list_position(meta_keys, k) < i),
                           lambda k: 'metadata.' || k))), ', ')
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
        WHEN 'too_large' THEN 'text values longer than ' || $max_field || ' characters: ' || array_to_string(
            list_filter(['learner_id', 'event_type', 'course_id', 'timestamp', 'metadata.module_id'],
                        lambda k, i: [{_TEXT_LENGTHS}][i] > $max_field), ', ')
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
        WHEN 'erased_learner' THEN 'an erased learner (the payload names them by their hash)'
        WHEN 'unknown_learner' THEN 'learner_id ' || learner_id || ' is not a known learner'
        WHEN 'unknown_course' THEN 'course_id ' || course_id || ' is not a known course'
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

#: Columns of :attr:`Verdict.events` and :attr:`Verdict.quarantined`.
EVENT_COLUMNS = [
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


@dataclass(frozen=True)
class Verdict:
    """A validated batch: the first arrival of each valid event, the number of later arrivals of
    the same ids (duplicates within the batch), and the quarantined payloads in source order."""

    events: pa.Table
    duplicates: int
    quarantined: pa.Table


def reason_counts(quarantined: pa.Table) -> dict[str, int]:
    """Quarantined rows per reason."""
    if not quarantined.num_rows:
        return {}
    counts = pc.value_counts(quarantined.column("reason")).to_pylist()
    return {c["values"]: c["counts"] for c in counts}


def _erased_check(erased: ErasedLearners | None) -> tuple[str, dict[str, str]]:
    """The ``erased_learner`` clause and its parameter; nothing to hash while nobody is erased."""
    if erased is None or not len(erased.hashes):
        return "", {}
    hashed = learner_hash_sql("hash_key", "learner_id")
    return f"WHEN {hashed} IN (SELECT h FROM erased_learners) THEN 'erased_learner'", {"hash_key": erased.key}


def validate_payloads(
    payloads: pa.Table,
    known_learners: pa.Array,
    known_courses: pa.Array,
    now: datetime | None = None,
    erased: ErasedLearners | None = None,
    max_field_chars: int = MAX_FIELD_CHARS,
) -> Verdict:
    """Check every payload of a batch; see :data:`REASONS` for what is rejected and in what order
    (``max_field_chars``: the longest text value accepted, ``LEARNREC_INGEST_MAX_FIELD_CHARS``).

    An erased learner's payload is quarantined with their id replaced by its hash: the quarantine
    keeps the event's shape without bringing the erased id back.
    """
    now = now or datetime.now(UTC)
    erased_check, params = _erased_check(erased)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = pa.array(np.arange(payloads.num_rows, dtype=np.int64))
        con.register("batch", payloads.append_column("_row", rows))
        con.register("known_learners", pa.table({"id": known_learners.cast(pa.string())}))
        con.register("known_courses", pa.table({"id": known_courses.cast(pa.string())}))
        if erased_check:
            con.register("erased_learners", pa.table({"h": erased.hashes.cast(pa.string())}))
        sql = _CHECK_SQL.replace("{erased_check}", erased_check)
        con.execute(
            f"CREATE TEMP TABLE checked AS {sql}",
            {"now": now.astimezone(UTC), "max_field": max_field_chars, **params},
        )
        events = con.sql(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM checked WHERE reason IS NULL "
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _row) = 1"
        ).to_arrow_table()
        valid = con.execute("SELECT count(*) FROM checked WHERE reason IS NULL").fetchall()[0][0]
        # only erased rows' learner ids leave DuckDB (another rejected row's may not even be text)
        erased_id = "CASE WHEN reason = 'erased_learner' THEN learner_id END"
        hashed = learner_hash_sql("hash_key", erased_id) if erased_check else "NULL::VARCHAR"
        rejected = con.sql(
            "SELECT _row, reason, reason_detail, source, source_uri, source_partition, source_offset, "
            f"{erased_id} AS learner_id, {hashed} AS learner_hash "
            "FROM checked WHERE reason IS NOT NULL ORDER BY _row",
            params=params or None,
        ).to_arrow_table()
    finally:
        con.close()
    payload = payloads.column("payload").take(rejected.column("_row")).cast(pa.string()).to_pylist()
    learners = rejected.column("learner_id").to_pylist()
    for i, hashed in enumerate(rejected.column("learner_hash").to_pylist()):
        if hashed is not None:
            payload[i] = payload[i].replace(learners[i], hashed)
    return Verdict(
        events=events,
        duplicates=valid - events.num_rows,
        quarantined=rejected.append_column("payload", pa.array(payload, pa.string())).select(
            QUARANTINE_COLUMNS
        ),
    )
