"""Erase learners from every warehouse table, found through the catalog, not a list.

A table names a learner by one of :data:`LEARNER_COLUMNS`: ``learner_id`` (raw events, served
log, features, recs versions, nudges, and every dbt relation keyed by learner), a
``notification_id`` (``learner:type:date``; delivery events that arrive without a learner id), or
a ``payload`` kept verbatim (quarantined events and delivery events, which name the learner by id
or e-mail). Every base table with such a column loses the matching rows in one transaction, so
a new table of any stage is covered the day it appears. Deleting rows of the dbt incremental
relations is their key-wise rebuild: their rows are per learner (and course or day), and the
next incremental run reads only what was ingested since, which no longer holds the learner.
Aggregates without a learner key (popularity, course features) are not personal data and stay.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from exports.privacy.requests import STEPS, Pending
from learnrec.tables import ERASURE_REQUESTS
from learnrec.warehouse import Warehouse

#: The identifiers of the run's requests, one row per (request, identifier), for set-based deletes.
ID_STAGE = "ops.erasure_identifiers"
#: The privacy bookkeeping itself: its rows hold hashes (and identifiers only while pending).
OWN_TABLES = frozenset({ERASURE_REQUESTS, STEPS, ID_STAGE})

_PAYLOAD_FIELDS = ("learner_id", "email")


def _payload_field(dialect: str, field: str) -> str:
    # POSIX classes, not backslashes: a backslash in a Snowflake string literal is an escape
    pattern = f'"{field}"[[:space:]]*:[[:space:]]*"([^"]*)"'
    if dialect == "snowflake":
        return f"REGEXP_SUBSTR(payload, '{pattern}', 1, 1, 'e', 1)"
    return f"nullif(regexp_extract(payload, '{pattern}', 1), '')"


def _learner_key(dialect: str, columns: set[str]) -> str:
    """The expression naming a row's learner (or their e-mail) from the columns a table has."""
    parts = []
    if "learner_id" in columns:
        parts.append("learner_id")
    if "notification_id" in columns:
        parts.append("nullif(split_part(notification_id, ':', 1), '')")
    if "payload" in columns:
        parts.extend(_payload_field(dialect, field) for field in _PAYLOAD_FIELDS)
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


LEARNER_COLUMNS = ("learner_id", "notification_id", "payload")


def learner_tables(warehouse: Warehouse) -> dict[str, str]:
    """Every base table that can name a learner, with the expression that does."""
    marks = ", ".join(f"'{c}'" for c in LEARNER_COLUMNS)
    rows = warehouse.query(
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        f"WHERE t.table_type = 'BASE TABLE' AND lower(c.column_name) IN ({marks})"
    ).to_pylist()
    columns: dict[str, set[str]] = {}
    for row in rows:
        table = f"{row['table_schema']}.{row['table_name']}".lower()
        if table not in OWN_TABLES:
            columns.setdefault(table, set()).add(row["column_name"].lower())
    return {table: _learner_key(warehouse.dialect, cols) for table, cols in sorted(columns.items())}


def stage_identifiers(warehouse: Warehouse, requests: list[Pending]) -> None:
    """Replace the stage with the identifiers of ``requests`` (empty: nothing left to match)."""
    pairs = [(r.request_id, value) for r in requests for value in r.identifiers()]
    data = pa.table(
        {
            "request_id": pa.array([p[0] for p in pairs], pa.string()),
            "identifier": pa.array([p[1] for p in pairs], pa.string()),
        }
    )
    warehouse.load_arrow(ID_STAGE, data, mode="replace")


def erase_tables(warehouse: Warehouse, tables: dict[str, str]) -> dict[str, Counter[str]]:
    """Delete the staged learners' rows from ``tables``; rows removed per table and request.

    Run inside the caller's transaction, so the deletes and their step records commit together.
    """
    removed: dict[str, Counter[str]] = {}
    for table, key in tables.items():
        counts = warehouse.query(
            f"SELECT s.request_id, count(*) AS n FROM {table} t JOIN {ID_STAGE} s ON s.identifier = {key} "
            "GROUP BY s.request_id"
        ).to_pylist()
        removed[table] = Counter({c["request_id"]: int(c["n"]) for c in counts})
        if counts:
            warehouse.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT identifier FROM {ID_STAGE})")
    return removed
