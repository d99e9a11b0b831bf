"""Every DAG file parses quickly without heavy imports, and carries owners, retries and approved tags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from learnrec.settings import PROJECT_ROOT

DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))
APPROVED_TAGS = {
    "ingest",
    "recommendations",
    "nightly",
    "catalog",
    "agents",
    "nudges",
    "privacy",
    "monitoring",
}
#: Modules a DAG file must not import at parse time (the scheduler parses every file continually).
HEAVY_ROOTS = {
    "pyspark",
    "torch",
    "mlflow",
    "dbt",
    "duckdb",
    "pandas",
    "implicit",
    "lightfm",
    "sentence_transformers",
    "great_expectations",
    "snowflake",
    "confluent_kafka",
    "numpy",
}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_dag_files_exist() -> None:
    assert DAG_FILES, "no DAG files found"


def test_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_file_named_after_it(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).stem == dag_id
    assert {p.stem for p in DAG_FILES} == set(dagbag.dags)


def test_owner_retries_and_tags(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and set(dag.tags) <= APPROVED_TAGS, f"{dag_id}: tags {dag.tags}"
        assert dag.doc_md, f"{dag_id}: no documentation"
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", f"{dag_id}.{t.task_id}: no owner"
            # a quality gate is deterministic: retrying cannot change its verdict, only delay the alert
            deterministic = t.task_id.split(".")[-1].startswith("gate_")
            assert t.retries >= 1 or deterministic, f"{dag_id}.{t.task_id}: no retries"


def test_no_cycles(dagbag) -> None:
    from airflow.utils.dag_cycle_tester import check_cycle

    for dag in dagbag.dags.values():
        check_cycle(dag)


def _modules_loaded_by(code: str) -> tuple[float, set[str]]:
    probe = (
        # CPU time of the process, not wall time: the figure holds on a loaded machine too
        "import sys, time; t = time.process_time();"
        f"{code};"
        "print(time.process_time() - t);"
        "print(','.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    seconds, modules = out.stdout.strip().splitlines()[-2:]
    return float(seconds), set(modules.split(","))


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_parse_is_fast_and_light(dag_file: Path) -> None:
    """Parse the file alone in a fresh interpreter: nothing heavy beyond what Airflow's SDK loads."""
    sdk_seconds, baseline = _modules_loaded_by("import airflow.sdk, pendulum")
    seconds, loaded = _modules_loaded_by(f"import runpy; runpy.run_path({str(dag_file)!r})")
    heavy = sorted(
        m for m in loaded - baseline if m.split(".")[0] in HEAVY_ROOTS or m.startswith("learnrec.world")
    )
    assert seconds - sdk_seconds < 3.0, (
        f"{dag_file.name} took {seconds:.1f}s of CPU to parse ({sdk_seconds:.1f}s of it importing the SDK)"
    )
    assert not heavy, f"{dag_file.name} imports heavy modules at parse time: {heavy[:10]}"
