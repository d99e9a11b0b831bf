"""Operator-facing failures: environment problems told in one sentence naming the setting to check.

An unreachable backend, a read-only home, a missing Java or a warehouse locked by another process
is not a bug, and a 200-line traceback hides the one thing the operator must change. Libraries are
looked up in ``sys.modules`` only: an exception of a library that was never imported cannot occur,
and the CLI's start-up stays free of heavy imports.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator

#: Java's gateway failing to start, in pyspark's error class and in its older plain message.
JAVA_GATEWAY = ("JAVA_GATEWAY_EXITED", "Java gateway process exited")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it: a library error is often re-raised wrapped by ours."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _class(module: str, name: str) -> type[BaseException] | None:
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _class(module, name)
    return cls is not None and isinstance(exc, cls)


def _duckdb_lock(exc: BaseException) -> str | None:
    if not (_is(exc, "duckdb", "IOException") and "lock" in str(exc).lower()):
        return None
    held = re.search(r"held in (.+?\(PID \d+\))", str(exc))
    by = f" ({held.group(1)})" if held else ""
    return (
        f"the DuckDB warehouse is locked by another process{by}: wait for that run to finish or "
        "close it, or point LEARNREC_DUCKDB_PATH at another file"
    )


def _duckdb_permission(exc: BaseException) -> str | None:
    # DuckDB reports a file it may not open as its own IOException, not as a PermissionError
    if not (_is(exc, "duckdb", "IOException") and "permission denied" in str(exc).lower()):
        return None
    return (
        "permission denied on the DuckDB warehouse file: make LEARNREC_DUCKDB_PATH (under "
        "LEARNREC_HOME by default) writable by this user, or point it at a file that is"
    )


def _permission(exc: BaseException) -> str | None:
    if not isinstance(exc, PermissionError):
        return None
    where = f" on {exc.filename}" if exc.filename else ""
    return f"permission denied{where}: make LEARNREC_HOME writable by this user or set it to a folder that is"


def _snowflake(exc: BaseException) -> str | None:
    # a failed query carries its query id; a failed connection or login has none
    if not _is(exc, "snowflake.connector.errors", "Error") or getattr(exc, "sfqid", None):
        return None
    return (
        f"cannot connect to Snowflake ({getattr(exc, 'raw_msg', None) or exc}): check LEARNREC_SNOWFLAKE_ACCOUNT, "
        "LEARNREC_SNOWFLAKE_HOST/PORT and the credentials"
    )


def _kafka(exc: BaseException) -> str | None:
    if not _is(exc, "confluent_kafka", "KafkaException"):
        return None
    return f"Kafka failed ({exc}): check LEARNREC_KAFKA_BOOTSTRAP_SERVERS and LEARNREC_KAFKA_TOPIC"


def _java(exc: BaseException) -> str | None:
    if not any(marker in str(exc) for marker in JAVA_GATEWAY):
        return None
    return (
        "Spark could not start Java: install a JDK (17 or later) and set JAVA_HOME, or set "
        "LEARNREC_SPARK_CONNECT_URL to use a Spark Connect server"
    )


EXPLAINERS: tuple[Callable[[BaseException], str | None], ...] = (
    _duckdb_lock,
    _duckdb_permission,
    _permission,
    _snowflake,
    _kafka,
    _java,
)


def explain(exc: BaseException) -> str | None:
    """One sentence for an environment problem behind ``exc``, or None for anything else (a bug)."""
    for link in _chain(exc):
        for explainer in EXPLAINERS:
            message = explainer(link)
            if message:
                return message
    return None
