"""Erasure on the demo world (a tiny world through every DAG): after a request, a retention expiry
and a crashed-then-resumed run, no table of the warehouse (iterated through its catalog) and no
file under the state folder names the learner, everyone else's rows are untouched, later events of
the learner are quarantined, and the nightly DAG still runs green."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from exports.privacy.eraser import STORES, run_erasure
from exports.privacy.requests import COMPLETIONS, STEPS, landing_folder
from exports.privacy.warehouse import ID_STAGE
from learnrec.airflow_env import run_airflow
from learnrec.cli import main
from learnrec.dag_defaults import RETRIES_ENV
from learnrec.demo import run_demo
from learnrec.ingest import run_ingest
from learnrec.privacy import learner_hash
from learnrec.settings import Settings, get_settings, load_settings
from learnrec.tables import ERASURE_REQUESTS
from learnrec.warehouse import connect_warehouse
from tests.privacy.scan import identifiers, rows_without, scan_files, scan_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.slow]

END = date(2026, 11, 30)
RUN_DATE = (END + timedelta(days=1)).isoformat()
#: Tables an erasure changes by design: its own records.
BOOKKEEPING = {ERASURE_REQUESTS, STEPS, COMPLETIONS, ID_STAGE}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("demo") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEARNREC_HOME", str(home))
        get_settings.cache_clear()
        settings = load_settings()
        run_demo(settings, size="tiny", end_date=END)
        run_erasure(settings)  # the world's few learners whose retention already ran out
        yield settings
    get_settings.cache_clear()


def _learners(settings: Settings) -> list[str]:
    """Learners with events and served recommendations, those sent a nudge (file sink) first."""
    with connect_warehouse(settings, read_only=True) as wh:
        return (
            wh.query(
                "SELECT e.learner_id FROM raw.learner_events e "
                "JOIN raw.served_recommendations s ON s.learner_id = e.learner_id "
                "JOIN raw.learners l ON l.learner_id = e.learner_id "
                "LEFT JOIN recs.nudge_outbox o ON o.learner_id = e.learner_id AND o.status = 'sent' "
                "GROUP BY e.learner_id ORDER BY count(o.learner_id) > 0 DESC, e.learner_id"
            )
            .column(0)
            .to_pylist()
        )


def _before(settings: Settings, learner: str) -> tuple[set[str], dict[str, int], int]:
    with connect_warehouse(settings, read_only=True) as wh:
        needles = identifiers(wh, learner)
        kept = rows_without(wh, needles, skip=BOOKKEEPING)
    return needles, kept, _lake_rows_without(settings, learner)


def _lake_rows_without(settings: Settings, learner: str) -> int:
    events = pq.read_table(Path(settings.lake_root) / "events", columns=["learner_id"], partitioning=None)
    return int(pc.sum(pc.not_equal(events.column("learner_id"), learner)).as_py())


def _assert_erased(
    settings: Settings, learner: str, needles: set[str], kept: dict[str, int], lake: int
) -> None:
    assert scan_files(settings.home, needles) == {}
    with connect_warehouse(settings, read_only=True) as wh:
        assert scan_warehouse(wh, needles) == {}
        assert rows_without(wh, needles, skip=BOOKKEEPING) == kept, "other learners' rows changed"
        request = wh.query(f"SELECT * FROM {ERASURE_REQUESTS} ORDER BY received_at DESC LIMIT 1").to_pylist()[
            0
        ]
    assert request["completed_at"] is not None and request["learner_id"] is None
    assert set(json.loads(request["removed"])) == {store for store, _ in STORES}
    assert _lake_rows_without(settings, learner) == lake


def test_an_erasure_request_leaves_no_trace_and_the_nightly_dag_still_runs(demo: Settings) -> None:
    learner = _learners(demo)[0]
    needles, kept, lake = _before(demo, learner)
    models = sorted(demo.mlflow_artifact_path.rglob("arrays.npz"))
    saved = {path: dict(np.load(path)) for path in models}

    assert main(["privacy", "erase", learner, "--reason", "GDPR art. 17"]) == 0
    _assert_erased(demo, learner, needles, kept, lake)
    # the saved models lost exactly the learner's rows: everyone else scores as before (in the
    # demo world no axis but the learners' has their length, so the shape tells a learner array)
    for path, arrays in saved.items():
        if "learner_ids" not in arrays:
            continue
        with np.load(path) as after:
            others = arrays["learner_ids"] != learner
            for name, values in arrays.items():
                expected = values[others] if values.shape[:1] == others.shape else values
                assert np.array_equal(after[name], expected), f"{path}: {name}"

    # a later event of the learner is quarantined as erased_learner, naming them only by hash
    late = demo.landing_path / "learner_events" / f"date={RUN_DATE}" / "hour=09" / "events-late.jsonl"
    late.parent.mkdir(parents=True, exist_ok=True)
    event = {"learner_id": learner, "event_type": "click", "course_id": "C00001",
             "timestamp": f"{RUN_DATE}T09:00:00Z", "metadata": {}}  # fmt: skip
    late.write_text(json.dumps(event) + "\n")
    report = run_ingest(demo, now=lambda: datetime.fromisoformat(f"{RUN_DATE}T10:00:00+00:00"))
    (batch,) = report.batches  # the shrunk event files are not read again: ingest's record shrank too
    assert (batch.consumed, batch.loaded, batch.reasons) == (1, 0, {"erased_learner": 1})
    late.unlink()  # the landing file is the app's delivery, not a store of the platform
    assert scan_files(demo.home, needles) == {}

    # the next night runs green on the erased state, and brings nothing of the learner back
    run_airflow(demo, ["dags", "test", "nightly_recommendations", RUN_DATE], extra_env={RETRIES_ENV: "0"})
    assert scan_files(demo.home, needles) == {}
    with connect_warehouse(demo, read_only=True) as wh:
        assert scan_warehouse(wh, needles) == {}


def test_retention_expiry_erases_through_the_privacy_retention_dag(demo: Settings) -> None:
    learner = _learners(demo)[1]
    expired = datetime(2026, 11, 15, tzinfo=UTC)
    with connect_warehouse(demo) as wh:
        wh.execute("UPDATE raw.learners SET retention_expiry = ? WHERE learner_id = ?", [expired, learner])
    snapshot = demo.landing_path / "sources" / "learners.parquet"
    learners = pq.read_table(snapshot)
    expiry = pc.if_else(
        pc.equal(learners.column("learner_id"), learner),
        pa.scalar(expired, learners.schema.field("retention_expiry").type),
        learners.column("retention_expiry"),
    )
    pq.write_table(
        learners.set_column(learners.schema.get_field_index("retention_expiry"), "retention_expiry", expiry),
        snapshot,
    )
    needles, kept, lake = _before(demo, learner)

    run_airflow(demo, ["dags", "test", "privacy_retention", RUN_DATE], extra_env={RETRIES_ENV: "0"})
    _assert_erased(demo, learner, needles, kept, lake)
    hashed = learner_hash(demo.privacy_hash_key.get_secret_value(), learner)
    with connect_warehouse(demo, read_only=True) as wh:
        kinds = wh.query(
            f"SELECT kind, reason FROM {ERASURE_REQUESTS} WHERE learner_hash = ?", [hashed]
        ).to_pylist()
    assert kinds == [{"kind": "retention", "reason": "retention_expiry passed"}]


def test_a_crashed_erasure_is_finished_by_the_next_run(demo: Settings) -> None:
    learner = _learners(demo)[2]
    needles, kept, lake = _before(demo, learner)
    folder = landing_folder(demo)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "support-1.jsonl").write_text(json.dumps({"learner_id": learner, "reason": "support"}) + "\n")

    def crash(store: str) -> None:
        if store == "lake":
            raise RuntimeError("killed after the lake")

    with pytest.raises(RuntimeError, match="killed"):
        run_erasure(demo, fault=crash)
    assert not any(folder.iterdir()), "the request file (naming the learner) is gone once recorded"
    with connect_warehouse(demo, read_only=True) as wh:
        pending = wh.query(f"SELECT request_id FROM {ERASURE_REQUESTS} WHERE completed_at IS NULL").column(0)
        assert len(pending) == 1
        done = wh.query(f"SELECT store FROM {STEPS} WHERE request_id = ?", [pending[0].as_py()]).column(0)
        assert set(done.to_pylist()) == {"landing", "warehouse", "lake"}

    report = run_erasure(demo)
    assert report.erased == 1 and "warehouse" not in report.removed, "done stores are not redone"
    _assert_erased(demo, learner, needles, kept, lake)
    with connect_warehouse(demo, read_only=True) as wh:
        steps = wh.query(f"SELECT store FROM {STEPS} WHERE request_id = ?", [pending[0].as_py()]).column(0)
    assert sorted(steps.to_pylist()) == sorted(store for store, _ in STORES), "each store once"
