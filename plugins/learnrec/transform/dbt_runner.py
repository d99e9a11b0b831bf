"""Run the dbt project (``dbt/``) programmatically, configured from :mod:`learnrec.settings`.

One entry point, :func:`run_dbt`, serves the tests, ``learnrec dbt ...`` and the nightly DAG (whose
per-model tasks are rendered by astronomer-cosmos from the manifest that :func:`parse_project`
writes). ``dbt/profiles.yml`` reads only ``LEARNREC_*`` variables; :func:`dbt_env` derives them
from the settings (the DuckDB file under ``LEARNREC_HOME``, the target from ``LEARNREC_WAREHOUSE``)
so that dbt and every other stage see the same warehouse.

dbt's artifacts (``target/``, logs) go to the state folder, ``<home>/dbt``, never into the source
tree: concurrent runs against different homes (tests, the demo) do not collide. The one exception
is the manifest the DAG file renders from (:data:`DAG_MANIFEST`), which depends only on the
project's code.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from learnrec.settings import PROJECT_ROOT, Settings
from learnrec.tables import LEARNER_EVENTS_MART

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
#: Manifest of the project's code (``dbt parse``) that the nightly DAG renders one task per model from.
DAG_MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
#: dbt relations that keep learner rows across nightly builds (incremental: rows are only replaced
#: when new events touch their date or pair). Erasing a learner (retention expiry, erasure request)
#: must delete from these beside raw; every other dbt relation is rebuilt from them and raw nightly.
INCREMENTAL_LEARNER_RELATIONS = (
    LEARNER_EVENTS_MART,
    "intermediate.int_learner_daily_activity",
    "intermediate.int_learner_course_events_aggregated",
    "marts.fct_recommendation_outcomes",  # incremental: keeps a learner's rows until rebuilt
)


class DbtRunError(RuntimeError):
    """dbt failed: a model, test or the invocation itself. The message names the failed nodes."""


@dataclass(frozen=True)
class DbtRunResult:
    """What one dbt invocation did."""

    command: tuple[str, ...]
    target_path: Path
    #: node unique_id -> status (success, pass, warn, skipped, ...)
    statuses: dict[str, str] = field(default_factory=dict)

    def count(self, *statuses: str) -> int:
        return sum(1 for status in self.statuses.values() if status in statuses)


def dbt_state_path(settings: Settings) -> Path:
    """Where dbt's artifacts and logs of this home live."""
    return settings.home / "dbt"


def docs_path(settings: Settings) -> Path:
    """Where ``dbt docs generate`` writes the documentation site (static_index.html opens from disk)."""
    return dbt_state_path(settings) / "docs"


def dbt_env(settings: Settings, *, include_secrets: bool = True) -> dict[str, str]:
    """The ``LEARNREC_*`` variables dbt/profiles.yml reads, derived from ``settings``.

    ``include_secrets=False`` leaves the Snowflake password out: the DAG file passes these values
    to its tasks at parse time, and a secret must never end up in a serialized DAG; the worker's
    own environment supplies it instead.
    """
    env = {"LEARNREC_WAREHOUSE": settings.warehouse, "LEARNREC_DUCKDB_PATH": str(settings.warehouse_path)}
    if settings.warehouse == "snowflake":
        optional = {
            "LEARNREC_SNOWFLAKE_ACCOUNT": settings.snowflake_account,
            "LEARNREC_SNOWFLAKE_USER": settings.snowflake_user,
            "LEARNREC_SNOWFLAKE_DATABASE": settings.snowflake_database,
            "LEARNREC_SNOWFLAKE_WAREHOUSE": settings.snowflake_warehouse,
            "LEARNREC_SNOWFLAKE_ROLE": settings.snowflake_role,
            "LEARNREC_SNOWFLAKE_HOST": settings.snowflake_host,
            "LEARNREC_SNOWFLAKE_PORT": None
            if settings.snowflake_port is None
            else str(settings.snowflake_port),
            "LEARNREC_SNOWFLAKE_PROTOCOL": settings.snowflake_protocol,
        }
        env.update({name: value for name, value in optional.items() if value})
        if include_secrets and settings.snowflake_password is not None:
            env["LEARNREC_SNOWFLAKE_PASSWORD"] = settings.snowflake_password.get_secret_value()
    return env


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration of an in-process dbt call (dbt's env_var reads os.environ)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt(
    settings: Settings,
    command: str,
    *args: str,
    dbt_vars: Mapping[str, Any] | None = None,
    target_path: Path | None = None,
) -> DbtRunResult:
    """Run ``dbt <command> <args>`` in this process against the settings' warehouse.

    Raises :class:`DbtRunError` when dbt reports failure (a failed model or test, a compile
    error); the message lists the failed nodes with dbt's own messages.
    """
    from dbt.cli.main import dbtRunner

    state = dbt_state_path(settings)
    target = target_path or state / "target"
    argv = [
        command,
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(state / "logs"),
    ]
    if dbt_vars:
        argv += ["--vars", json.dumps(dict(dbt_vars), default=str)]
    if settings.warehouse == "duckdb":
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("dbt %s", " ".join(argv[: 1 + len(args)]))
    with _environment(dbt_env(settings)):
        try:
            result = dbtRunner().invoke(argv)
        finally:
            release_dbt_connections()
    statuses: dict[str, str] = {}
    failures: list[str] = []
    for node_result in getattr(result.result, "results", None) or []:
        node = getattr(node_result, "node", None)
        status = str(getattr(node_result, "status", ""))
        if node is None:
            continue
        statuses[node.unique_id] = status
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{node.unique_id}: {status}: {node_result.message}")
    if not result.success:
        detail = "; ".join(failures) or str(result.exception or "see the dbt log")
        raise DbtRunError(f"dbt {command} failed: {detail} (log: {state / 'logs' / 'dbt.log'})")
    return DbtRunResult(command=tuple(argv[: 1 + len(args)]), target_path=target, statuses=statuses)


def release_dbt_connections(*_args: object, **_kwargs: object) -> None:
    """Close what dbt keeps open in this process after an invocation.

    Called after every :func:`run_dbt`, and by the nightly DAG's cosmos tasks as their post-run
    callback (whose arguments it ignores).

    dbt-duckdb holds its DuckDB database open in a class attribute for the life of the process;
    DuckDB then refuses every other connection to that file with a different configuration
    (the warehouse adapter's, a read-only reader) and other processes cannot open it at all. The
    next invocation reopens it.
    """
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing held
        return
    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def build(
    settings: Settings,
    *,
    select: Sequence[str] = (),
    full_refresh: bool = False,
    run_date: date | None = None,
) -> DbtRunResult:
    """``dbt build``: models, snapshots and tests in dependency order (the nightly transformation).

    ``run_date`` (the last complete event day) is passed as the dbt var ``run_date``; models do not
    need it for correctness (the incremental ones work from ingest watermarks) but it is recorded.
    """
    args: list[str] = []
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    dbt_vars = {"run_date": run_date.isoformat()} if run_date else None
    return run_dbt(settings, "build", *args, dbt_vars=dbt_vars)


def parse_project(settings: Settings, target_path: Path = DAG_MANIFEST.parent) -> Path:
    """``dbt parse``: write the manifest the nightly DAG renders its per-model tasks from."""
    run_dbt(settings, "parse", target_path=target_path)
    return target_path / "manifest.json"


def generate_docs(settings: Settings) -> Path:
    """``dbt docs generate --static`` into the state folder; returns the one-file site.

    ``static_index.html`` embeds the manifest and the catalog, so it opens straight from the
    file system (``index.html`` beside it needs ``dbt docs serve`` or any web server).
    """
    target = docs_path(settings)
    run_dbt(settings, "docs", "generate", "--static", target_path=target)
    return target / "static_index.html"
