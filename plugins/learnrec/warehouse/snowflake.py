"""Snowflake warehouse: the production backend, through snowflake-connector-python.

Same interface as the DuckDB default, so callers never branch on the backend. What this adapter
does differently, and why:

* **Bulk loads go through a stage.** ``load_arrow`` writes the Arrow table to Parquet files,
  uploads them with one ``PUT`` to a session-scoped temporary stage and loads them with one
  ``COPY INTO ... FROM (SELECT ...)``: the statement count is independent of the row count.
  The ``SELECT`` is the staging step: each column is cast to its Snowflake type there, JSON text
  becomes ``VARIANT`` through ``PARSE_JSON`` and Arrow lists become ``ARRAY``.
  ``ON_ERROR`` stays ``ABORT_STATEMENT``: a bad file loads nothing; the loaded row count is
  checked against the Arrow table before the transaction commits.
* **DDL commits implicitly in Snowflake.** A ``CREATE TABLE`` inside ``BEGIN ... COMMIT`` would
  commit the caller's open transaction and silently break "offsets stored with the data in one
  transaction". So inside a transaction ``load_arrow`` only ever runs DML (``DELETE``, ``COPY``)
  and refuses to create a table or change its columns: create the table first, e.g. with
  ``load_arrow(table, schema.empty_table())`` before ``transaction()``.
* **Identifiers are case-insensitive (upper case).** Tables and columns are created unquoted
  (upper case), so ``SELECT event_id FROM raw.learner_events`` works as on DuckDB, and result
  column names that Snowflake reports in upper case come back in lower case.
* **Results come back as the Arrow types that went in**, from the result's column metadata, also
  for empty results: integer widths are encoded in the column precision
  (``NUMBER(10,0)`` <-> int32, see ``INT_PRECISION``), timestamps are microseconds (UTC for
  ``TIMESTAMP_TZ``/``_LTZ``), ``ARRAY`` becomes an Arrow list, ``VARIANT``/``OBJECT`` stay JSON
  text (as the JSON columns are text on DuckDB).

Secrets come from settings only (password, or a key-pair file for ``SNOWFLAKE_JWT``). The
database must exist (production roles rarely may create one); the layout's schemas are created
idempotently on connect.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq
import snowflake.connector
from snowflake.connector.constants import FIELD_ID_TO_NAME

from learnrec.settings import Settings
from learnrec.tables import LEARNER_EVENTS
from learnrec.warehouse.base import SCHEMAS, LoadMode, Warehouse

#: The layout's schemas plus dbt's (INTERFACES.md: the same names on Snowflake).
SNOWFLAKE_SCHEMAS = (*SCHEMAS, "staging", "intermediate", "marts")
#: Columns holding JSON text (VARCHAR on DuckDB) that Snowflake keeps as VARIANT so that
#: ``metadata:module_id`` paths work; from INTERFACES.md. Arrow's JSON extension type marks
#: further JSON columns without listing them here.
JSON_COLUMNS: dict[str, frozenset[str]] = {
    LEARNER_EVENTS: frozenset({"metadata"}),
}
#: Arrow integer width <-> NUMBER precision: the precision round-trips the width exactly.
INT_PRECISION = {pa.int8(): 3, pa.int16(): 5, pa.int32(): 10, pa.int64(): 19}
#: One Parquet file per this many rows: COPY loads files in parallel, and each stays well
#: inside Snowflake's recommended 100-250 MB compressed.
ROWS_PER_FILE = 1_000_000
STAGE = "ops.learnrec_load"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIMESTAMP_PRECISION = {"s": 0, "ms": 3, "us": 6, "ns": 9}


class SnowflakeLoadError(RuntimeError):
    """A bulk load that cannot be done atomically, or that did not load every row."""


def identifier(name: str) -> str:
    """An unquoted-style identifier, quoted in upper case (equivalent, and safe for keywords)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"expected letters, digits and underscores, got {name!r}")
    return f'"{name.upper()}"'


def split_table(table: str) -> tuple[str, str]:
    parts = table.split(".")
    if len(parts) != 2:
        raise ValueError(f"expected schema.table, got {table!r}")
    identifier(parts[0]), identifier(parts[1])
    return parts[0], parts[1]


def quote_table(table: str) -> str:
    return ".".join(identifier(part) for part in split_table(table))


def column_type(table: str, field: pa.Field) -> str:
    """The Snowflake column type that stores ``field`` (and maps back to its Arrow type)."""
    kind = field.type
    if isinstance(kind, pa.JsonType) or field.name in JSON_COLUMNS.get(table, ()):
        return "VARIANT"
    if kind in INT_PRECISION:
        return f"NUMBER({INT_PRECISION[kind]},0)"
    if pa.types.is_floating(kind):
        return "FLOAT"
    if pa.types.is_decimal(kind):
        return f"NUMBER({kind.precision},{kind.scale})"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "VARCHAR"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_date(kind):
        return "DATE"
    if pa.types.is_timestamp(kind):
        family = "TIMESTAMP_TZ" if kind.tz else "TIMESTAMP_NTZ"
        return f"{family}({_TIMESTAMP_PRECISION[kind.unit]})"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "ARRAY"
    raise TypeError(f"column {field.name!r}: Arrow type {kind} has no Snowflake mapping here")


def create_table_sql(table: str, schema: pa.Schema) -> str:
    columns = ", ".join(f"{identifier(f.name)} {column_type(table, f)}" for f in schema)
    return f"CREATE TABLE IF NOT EXISTS {quote_table(table)} ({columns})"


def copy_sql(table: str, schema: pa.Schema, target_types: dict[str, str], location: str) -> str:
    """``COPY INTO`` with the staging ``SELECT`` that casts every Parquet column to its target."""
    names, values = [], []
    for field in schema:
        source = f'$1:"{field.name}"'
        target = target_types[field.name.upper()]
        is_text = pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
        if target in ("VARIANT", "OBJECT", "ARRAY") and (is_text or isinstance(field.type, pa.JsonType)):
            value = f"PARSE_JSON({source}::VARCHAR)"
        elif target in ("VARIANT", "OBJECT", "ARRAY"):
            value = f"{source}::{target}"
        else:
            value = f"{source}::{column_type(table, field)}"
        names.append(identifier(field.name))
        values.append(value)
    return (
        f"COPY INTO {quote_table(table)} ({', '.join(names)}) "
        f"FROM (SELECT {', '.join(values)} FROM @{location}) "
        "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
    )


def _json_arrays(texts: pa.ChunkedArray) -> pa.Array:
    """ARRAY results (JSON text) as an Arrow list column, parsed in bulk by Arrow's JSON reader."""
    if len(texts) == 0:
        return pa.array([], pa.list_(pa.string()))
    texts = pc.fill_null(texts.cast(pa.large_string()), "null").combine_chunks()
    lines = pc.binary_join_element_wise(
        pa.scalar('{"v":', pa.large_string()),
        texts,
        pa.scalar("}", pa.large_string()),
        pa.scalar("", pa.large_string()),
    )
    joined = pa.LargeListArray.from_arrays([0, len(lines)], lines)
    document = pc.binary_join(joined, pa.scalar("\n", pa.large_string()))[0]
    options = pajson.ReadOptions(block_size=1 << 24)  # a block must hold the longest array
    values = pajson.read_json(pa.BufferReader(document.as_buffer()), options).column("v").combine_chunks()
    if pa.types.is_null(values.type) or pa.types.is_null(values.type.value_type):
        return values.cast(pa.list_(pa.string()))
    return values


def arrow_type(meta: Any) -> pa.DataType | None:
    """The Arrow type of a result column from its Snowflake metadata (None: leave as fetched)."""
    kind = FIELD_ID_TO_NAME.get(meta.type_code)
    if kind == "FIXED":
        if not meta.scale:
            widths = {precision: width for width, precision in INT_PRECISION.items()}
            return widths.get(meta.precision, pa.int64())
        return pa.decimal128(meta.precision, meta.scale)
    simple = {
        "REAL": pa.float64(),
        "TEXT": pa.string(),
        "VARIANT": pa.string(),
        "OBJECT": pa.string(),
        "DATE": pa.date32(),
        "BOOLEAN": pa.bool_(),
        "BINARY": pa.binary(),
        "TIME": pa.time64("us"),
        "TIMESTAMP_NTZ": pa.timestamp("us"),
        "TIMESTAMP": pa.timestamp("us"),
        "TIMESTAMP_TZ": pa.timestamp("us", tz="UTC"),
        "TIMESTAMP_LTZ": pa.timestamp("us", tz="UTC"),
    }
    return simple.get(kind or "")


def to_warehouse_arrow(fetched: pa.Table | None, description: Sequence[Any]) -> pa.Table:
    """Normalise a fetched result: lower-case names, the project's Arrow types, typed when empty."""
    names = [meta.name.lower() if meta.name.isupper() else meta.name for meta in description]
    columns: list[pa.ChunkedArray | pa.Array] = []
    for index, meta in enumerate(description):
        target = arrow_type(meta)
        is_array = FIELD_ID_TO_NAME.get(meta.type_code) == "ARRAY"
        if fetched is None or fetched.num_rows == 0:
            empty_type = pa.list_(pa.string()) if is_array else (target or pa.string())
            columns.append(pa.array([], empty_type))
            continue
        column = fetched.column(index)
        if is_array:
            columns.append(_json_arrays(column))
        elif target is None or column.type == target:
            columns.append(column)
        elif pa.types.is_timestamp(target):
            # Snowflake returns nanoseconds; the project's timestamps are microseconds
            columns.append(column.cast(target, safe=False))
        else:
            columns.append(column.cast(target))
    return pa.table(columns, names=names)


class SnowflakeWarehouse(Warehouse):
    dialect = "snowflake"

    def __init__(self, *, database: str, schemas: Sequence[str] = SNOWFLAKE_SCHEMAS, **connect: Any) -> None:
        """``connect``: keyword arguments of ``snowflake.connector.connect`` (account, user, ...)."""
        session = {"TIMEZONE": "UTC", "QUERY_TAG": "learnrec"} | connect.pop("session_parameters", {})
        connect = {
            **connect,
            "database": database,
            "session_parameters": session,
            # ``?`` placeholders bound by the server, as DuckDB's: one SQL text for both backends
            "paramstyle": "qmark",
            "autocommit": True,
        }
        self.con = snowflake.connector.connect(**connect)
        self._in_transaction = False
        for schema in schemas:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {identifier(schema)}")
        # session-scoped: vanishes with the session, so an aborted load leaves no files behind
        self.execute(f"CREATE TEMPORARY STAGE IF NOT EXISTS {STAGE}")

    @classmethod
    def from_settings(cls, settings: Settings) -> SnowflakeWarehouse:
        connect: dict[str, Any] = {"account": settings.snowflake_account, "user": settings.snowflake_user}
        if settings.snowflake_private_key_file:
            connect["authenticator"] = "SNOWFLAKE_JWT"
            connect["private_key_file"] = str(settings.snowflake_private_key_file)
            if settings.snowflake_private_key_passphrase:
                connect["private_key_file_pwd"] = settings.snowflake_private_key_passphrase.get_secret_value()
        elif settings.snowflake_password:
            connect["password"] = settings.snowflake_password.get_secret_value()
        optional = {
            "warehouse": settings.snowflake_warehouse,
            "role": settings.snowflake_role,
            "host": settings.snowflake_host,
            "port": settings.snowflake_port,
        }
        connect |= {key: value for key, value in optional.items() if value is not None}
        if settings.snowflake_host:
            connect["protocol"] = settings.snowflake_protocol
        return cls(database=settings.snowflake_database, **connect)

    # --- statements ---------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cursor = self.con.cursor()
        cursor.execute(sql, params)
        return cursor

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._run(sql, params).close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        cursor = self._run(sql, params)
        try:
            if not cursor.description:
                return pa.table({})
            fetched = cursor.fetch_arrow_all(force_return_table=True)
            return to_warehouse_arrow(fetched, cursor.description)
        finally:
            cursor.close()

    def table_exists(self, table: str) -> bool:
        schema, name = split_table(table)
        found = self._run(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema.upper(), name.upper()],
        ).fetchone()
        return bool(found and found[0])

    def _column_types(self, table: str) -> dict[str, str]:
        schema, name = split_table(table)
        rows = self._run(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema.upper(), name.upper()],
        ).fetchall()
        return {column: data_type.upper() for column, data_type in rows}

    def _refuse_ddl_in_transaction(self, table: str, what: str) -> None:
        if self._in_transaction:
            raise SnowflakeLoadError(
                f"{what} {table} needs DDL, which commits Snowflake's open transaction: do it before "
                f"the transaction (e.g. load_arrow({table!r}, schema.empty_table()))"
            )

    # --- transactions -------------------------------------------------------------------------
    def begin(self) -> None:
        if self._in_transaction:
            raise RuntimeError("a transaction is already open on this warehouse connection")
        self.execute("BEGIN")
        self._in_transaction = True

    def commit(self) -> None:
        self.execute("COMMIT")
        self._in_transaction = False

    def rollback(self) -> None:
        self._in_transaction = False
        self.execute("ROLLBACK")

    # --- bulk load ----------------------------------------------------------------------------
    def load_arrow(self, table: str, data: pa.Table, mode: LoadMode = "append") -> int:
        if mode not in ("append", "replace"):
            raise ValueError(f"mode must be 'append' or 'replace', got {mode!r}")
        if data.num_columns == 0:
            raise ValueError(f"nothing to load into {table}: the Arrow table has no columns")
        quote_table(table)
        wanted = {field.name.upper() for field in data.schema}
        existing = self._column_types(table) if self.table_exists(table) else {}
        if mode == "replace" and existing and set(existing) != wanted:
            return self._rebuild(table, data)
        if not existing:
            self._refuse_ddl_in_transaction(table, "creating")
            self.execute(create_table_sql(table, data.schema))
            existing = self._column_types(table)
        unknown = sorted(wanted - set(existing))
        if unknown:
            raise SnowflakeLoadError(f"{table} has no column(s) {', '.join(unknown)}")
        # joins the caller's transaction if one is open (Warehouse.transaction nests)
        with self._staged(data) as location, self.transaction():
            if mode == "replace":
                self.execute(f"DELETE FROM {quote_table(table)}")
            self._copy(table, data, existing, location)
        return data.num_rows

    def _rebuild(self, table: str, data: pa.Table) -> int:
        """Replace with new columns: load a side table, then swap it in with one atomic statement."""
        self._refuse_ddl_in_transaction(table, "replacing the columns of")
        side = f"{table}__learnrec_new"
        self.execute(f"DROP TABLE IF EXISTS {quote_table(side)}")
        self.execute(create_table_sql(side, data.schema))
        try:
            with self._staged(data) as location:
                self._copy(side, data, self._column_types(side), location)
            # one CTAS: readers see the old table or the new one, never an empty one
            self.execute(f"CREATE OR REPLACE TABLE {quote_table(table)} AS SELECT * FROM {quote_table(side)}")
        finally:
            self.execute(f"DROP TABLE IF EXISTS {quote_table(side)}")
        return data.num_rows

    @contextmanager
    def _staged(self, data: pa.Table) -> Iterator[str]:
        """Upload ``data`` as Parquet files (one PUT) and yield their stage location."""
        if data.num_rows == 0:
            yield ""
            return
        prefix = f"{STAGE}/{uuid.uuid4().hex}/"
        with tempfile.TemporaryDirectory(prefix="learnrec-load-") as folder:
            for number, start in enumerate(range(0, data.num_rows, ROWS_PER_FILE)):
                chunk = data.slice(start, ROWS_PER_FILE)
                pq.write_table(chunk, Path(folder) / f"part-{number:05d}.parquet", compression="snappy")
            self.execute(
                f"PUT 'file://{Path(folder).as_posix()}/*.parquet' @{prefix} "
                "AUTO_COMPRESS = FALSE PARALLEL = 4 OVERWRITE = TRUE"
            )
        yield prefix

    def _copy(self, table: str, data: pa.Table, target_types: dict[str, str], location: str) -> None:
        if data.num_rows == 0:
            return
        results = self._run(copy_sql(table, data.schema, target_types, location)).fetchall()
        loaded = sum(int(row[3] or 0) for row in results)
        if loaded != data.num_rows:
            raise SnowflakeLoadError(f"COPY INTO {table} loaded {loaded} of {data.num_rows} rows: {results}")

    def close(self) -> None:
        self.con.close()
