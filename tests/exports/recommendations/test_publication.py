"""Gate, atomic publish with the Recommendation Log, keep-K, rollback and the serving export."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from exports.recommendations import steps, tables
from exports.recommendations.gate import run_gate
from exports.recommendations.precompute import precompute
from exports.recommendations.publish import PublicationError, expire_versions, publish, rollback
from exports.recommendations.serving import export_sqlite, export_warehouse_table, lookup_sqlite
from learnrec.contracts.product import RecommendationLog
from learnrec.warehouse import connect_warehouse
from ml.ranking.rules import RuleConfig

from .conftest import RUN_DATE, build_marts, rows_of

pytestmark = pytest.mark.slow  # great-expectations takes ~20 s of CPU to import

TOP_N = 10


def version(warehouse, champion, content, run_id, run_date=RUN_DATE):
    precompute(
        warehouse, run_date, champion=champion, content=content, config=RuleConfig(top_n=TOP_N), run_id=run_id
    )
    return run_id


def _llm_path(learner_id: str, *course_ids: str) -> str:
    """SQL adding an LLM path (steps 1..n) for a learner to every version (tests narrow by run_id)."""
    steps = " UNION ALL ".join(f"SELECT {i} AS step, '{c}' AS course_id" for i, c in enumerate(course_ids, 1))
    return (
        "INSERT INTO recs.learning_paths SELECT r.run_id, r.learner_id, 'goal', s.step, s.course_id, "
        f"'llm step', 'llm' FROM recs.learner_recommendations r, ({steps}) s "
        f"WHERE r.learner_id = '{learner_id}' AND r.rank = 1"
    )


def test_gate_passes_a_good_version_and_publish_switches_and_logs(warehouse, champion, content):
    run_id = version(warehouse, champion, content, "v1")
    assert run_gate(warehouse, run_id, top_n=TOP_N).success
    switch = publish(warehouse, run_id, keep_versions=3)
    assert tables.current_run_id(warehouse) == "v1" and switch.previous_run_id is None
    served = rows_of(warehouse, "SELECT * FROM recs.current_learner_recommendations")
    assert len(served) == 29 * TOP_N
    log = rows_of(warehouse, "SELECT * FROM raw.served_recommendations")
    assert switch.logged == len(log) == len(served)
    assert {r["log_id"] for r in log} == {r["log_id"] for r in served}
    entry = RecommendationLog.model_validate({k: v for k, v in log[0].items() if k != "received_at"})
    assert entry.rank_at_serve >= 1 and entry.outcome is None and entry.signals_used
    # a retried publish task changes nothing and logs nothing twice
    assert publish(warehouse, run_id, keep_versions=3).logged == 0
    assert warehouse.scalar("SELECT count(*) FROM raw.served_recommendations") == len(log)


def test_a_rerun_of_the_date_never_logs_a_recommendation_twice(warehouse, champion, content):
    """Decided: a key (run date, learner, course) is logged once, by the first publication that
    served it; a rerun logs only the courses it newly serves."""
    run_gate(warehouse, version(warehouse, champion, content, "first"), top_n=TOP_N)
    publish(warehouse, "first", keep_versions=5, now=_at(0))
    log_query = "SELECT * FROM raw.served_recommendations ORDER BY log_id"
    first_log = rows_of(warehouse, log_query)
    for run_id, scorer, hour in (("rerun", champion, 1), ("backfill", None, 2), ("again", champion, 3)):
        run_gate(warehouse, version(warehouse, scorer, content, run_id), top_n=TOP_N)
        publish(warehouse, run_id, keep_versions=5, now=_at(hour))
    log = rows_of(warehouse, log_query)
    per_day = warehouse.query(
        "SELECT learner_id, course_id, count(*) AS n FROM raw.served_recommendations "
        "GROUP BY learner_id, course_id HAVING count(*) > 1"
    )
    assert per_day.num_rows == 0
    assert [r for r in log if r["served_at"] == _at(0)] == first_log  # the first serving stays as logged
    newly_served = warehouse.scalar(
        "SELECT count(DISTINCT learner_id || course_id) FROM recs.learner_recommendations"
    )
    assert len(log) == newly_served > len(first_log)  # the content-only backfill served other courses


def _at(hour: int) -> datetime:
    return datetime(2026, 3, 2, hour, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tamper", "failed_check"),
    [
        (
            "UPDATE recs.learner_recommendations SET course_id = 'c07' WHERE learner_id = 'l02' AND rank = 1",
            "n_completed",
        ),
        (
            "UPDATE recs.learner_recommendations SET course_id = 'c03' WHERE learner_id = 'l09' AND rank = 1",
            "n_prerequisite_violations",
        ),
        (
            "UPDATE recs.learner_recommendations SET score = 'NaN'::DOUBLE WHERE learner_id = 'l09' AND rank = 2",
            "n_not_finite",
        ),
        ("DELETE FROM recs.learner_recommendations WHERE learner_id = 'l08' AND rank = 10", "n_recs"),
        (
            "UPDATE recs.learner_recommendations SET course_id = (SELECT course_id FROM recs.learner_recommendations r WHERE r.learner_id = 'l10' AND r.rank = 1 AND r.run_id = 'bad') WHERE learner_id = 'l10' AND rank = 2",
            "n_duplicates",
        ),
        ("DELETE FROM recs.learner_recommendations WHERE learner_id = 'l11'", "n_recs"),
        # ranks must be exactly 1..N: shifted (2..N+1) or one repeated (1, 2, 2, 4..N) fail too
        ("UPDATE recs.learner_recommendations SET rank = rank + 1 WHERE learner_id = 'l09'", "rank_gaps"),
        (
            "UPDATE recs.learner_recommendations SET rank = 2 WHERE learner_id = 'l09' AND rank = 3",
            "rank_gaps",
        ),
        # learning paths: the served one (an LLM path where there is one) obeys the same rules
        (_llm_path("l02", "c07"), "n_path_completed"),
        (_llm_path("l09", "c03"), "n_path_prerequisite_violations"),
        (_llm_path("l09", "c99"), "n_path_unknown_courses"),
        ("UPDATE recs.learning_paths SET step = step + 1 WHERE learner_id = 'l01'", "path_step_errors"),
        ("UPDATE recs.learning_paths SET course_id = 'c01' WHERE learner_id = 'l03'", "n_path_duplicates"),
        ("UPDATE recs.learning_paths SET learner_id = 'l30' WHERE learner_id = 'l01'", "is_active"),
    ],
)
def test_failing_gate_keeps_the_previous_version_and_alerts(
    warehouse, champion, content, tamper, failed_check
):
    good = version(warehouse, champion, content, "good")
    assert run_gate(warehouse, good, top_n=TOP_N).success
    publish(warehouse, good, keep_versions=3)
    bad = version(warehouse, champion, content, "bad")
    warehouse.execute(tamper + " AND run_id = 'bad'")
    result = run_gate(warehouse, bad, top_n=TOP_N)
    assert not result.success
    assert any(failed_check in name for name in result.failures), result.failures
    with pytest.raises(PublicationError):
        publish(warehouse, bad, keep_versions=3)
    assert tables.current_run_id(warehouse) == "good"
    assert warehouse.scalar("SELECT status FROM recs.runs WHERE run_id = 'bad'") == "failed"
    alerts = rows_of(warehouse, "SELECT * FROM ops.alerts")
    assert len(alerts) == 1 and alerts[0]["run_id"] == "bad" and failed_check in alerts[0]["message"]
    run_gate(warehouse, bad, top_n=TOP_N)  # a retried gate task does not alert twice
    assert warehouse.scalar("SELECT count(*) FROM ops.alerts") == 1


def test_llm_path_is_preferred_and_each_learner_is_served_one_path(warehouse, champion, content, tmp_path):
    run_id = version(warehouse, champion, content, "p1")
    warehouse.execute(_llm_path("l01", "c02", "c03") + " AND r.run_id = 'p1'")  # l01 completed c01
    assert run_gate(warehouse, run_id, top_n=TOP_N).success
    publish(warehouse, run_id, keep_versions=3)
    served = rows_of(warehouse, "SELECT learner_id, step, course_id, source FROM recs.current_learning_paths")
    assert len({(r["learner_id"], r["step"]) for r in served}) == len(served)  # one path per learner
    by_source = {r["learner_id"]: r["source"] for r in served}
    assert by_source["l01"] == "llm" and set(by_source.values()) == {"llm", "static"}
    assert [r["course_id"] for r in sorted(served, key=lambda r: r["step"]) if r["learner_id"] == "l01"] == [
        "c02",
        "c03",
    ]
    _, path_steps = lookup_sqlite(export_sqlite(warehouse, run_id, tmp_path / "s.sqlite").target, "l01")
    assert [(s["course_id"], s["source"]) for s in path_steps] == [("c02", "llm"), ("c03", "llm")]
    export_warehouse_table(warehouse)
    assert rows_of(
        warehouse,
        "SELECT count(*) AS n, count(DISTINCT learner_id || ':' || step) AS keys "
        "FROM recs.serving_learning_paths",
    ) == rows_of(warehouse, "SELECT count(*) AS n, count(*) AS keys FROM recs.current_learning_paths")


def test_the_learning_path_agent_does_not_rewrite_a_published_version(settings, warehouse, champion, content):
    """A rerun of the agent task after publication (cleared in Airflow) would swap the served
    paths without a gate; here the rule-based provider would drop l01's LLM path."""
    from ml.agents.learning_path import plan_llm_learning_paths

    warehouse.execute(
        "CREATE OR REPLACE TABLE raw.learners AS SELECT * FROM marts.dim_learners"
    )  # the agent's input
    run_id = version(warehouse, champion, content, "p1")
    warehouse.execute(_llm_path("l01", "c02", "c03") + " AND r.run_id = 'p1'")
    assert run_gate(warehouse, run_id, top_n=TOP_N).success
    publish(warehouse, run_id, keep_versions=3)
    served = (
        "SELECT source, course_id FROM recs.current_learning_paths WHERE learner_id = 'l01' ORDER BY step"
    )
    before = rows_of(warehouse, served)
    with pytest.raises(ValueError, match="was published"):
        plan_llm_learning_paths(settings, warehouse, run_id)
    assert (
        rows_of(warehouse, served)
        == before
        == [
            {"source": "llm", "course_id": "c02"},
            {"source": "llm", "course_id": "c03"},
        ]
    )


def test_keep_k_versions_and_rollback(warehouse, champion, content):
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for i in range(4):
        run_id = version(warehouse, champion, content, f"v{i}")
        warehouse.execute(
            "UPDATE recs.runs SET created_at = ? WHERE run_id = ?", [t0 + timedelta(hours=i), run_id]
        )
        assert run_gate(warehouse, run_id, top_n=TOP_N).success
        publish(warehouse, run_id, keep_versions=3, now=t0 + timedelta(hours=i, minutes=5))
    kept = {
        r["run_id"] for r in rows_of(warehouse, "SELECT DISTINCT run_id FROM recs.learner_recommendations")
    }
    assert kept == {"v1", "v2", "v3"}
    assert warehouse.scalar("SELECT status FROM recs.runs WHERE run_id = 'v0'") == "expired"
    assert rollback(warehouse).run_id == "v2"
    assert tables.current_run_id(warehouse) == "v2"
    assert warehouse.scalar("SELECT status FROM recs.runs WHERE run_id = 'v3'") == "rolled_back"
    assert rollback(warehouse).run_id == "v1"
    with pytest.raises(PublicationError, match="no earlier version"):
        rollback(warehouse)  # v0's rows are gone
    assert expire_versions(warehouse, 3) == ()  # nothing beyond K, current never expires


def test_a_retried_publish_does_not_undo_a_rollback(warehouse, champion, content):
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for i, run_id in enumerate(("r0", "r1")):
        version(warehouse, champion, content, run_id)
        assert run_gate(warehouse, run_id, top_n=TOP_N).success
        publish(warehouse, run_id, keep_versions=3, now=t0 + timedelta(hours=i))
    assert rollback(warehouse).run_id == "r0"
    with pytest.raises(PublicationError, match="'r1' was rolled back by an operator"):
        publish(warehouse, "r1", keep_versions=3)  # the night's publish task, retried
    assert tables.current_run_id(warehouse) == "r0"
    assert warehouse.scalar("SELECT status FROM recs.runs WHERE run_id = 'r1'") == "rolled_back"
    assert publish(warehouse, "r1", keep_versions=3, force=True).previous_run_id == "r0"  # the operator
    assert tables.current_run_id(warehouse) == "r1"


def test_a_backfilled_older_date_does_not_replace_a_newer_version(warehouse, champion, content):
    newer = version(warehouse, champion, content, "newer")
    assert run_gate(warehouse, newer, top_n=TOP_N).success
    publish(warehouse, newer, keep_versions=3)
    logged = warehouse.scalar("SELECT count(*) FROM raw.served_recommendations")
    older = version(warehouse, champion, content, "older", run_date=RUN_DATE - timedelta(days=3))
    assert run_gate(warehouse, older, top_n=TOP_N).success
    switch = publish(warehouse, older, keep_versions=3)
    assert (switch.held_back_by, switch.logged) == ("newer", 0)
    assert tables.current_run_id(warehouse) == "newer"
    assert warehouse.scalar("SELECT status FROM recs.runs WHERE run_id = 'older'") == "validated"
    assert warehouse.scalar("SELECT count(*) FROM raw.served_recommendations") == logged
    assert publish(warehouse, older, keep_versions=3, force=True).held_back_by is None  # explicit
    assert tables.current_run_id(warehouse) == "older"


def test_failed_nights_do_not_push_the_last_good_version_out(warehouse, champion, content):
    """keep K = the K newest *published* versions: after failed gates the version that kept serving
    through them stays the rollback target."""
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for i, good in enumerate((True, False, False, True, True)):
        run_id = version(warehouse, champion, content, f"n{i}")
        warehouse.execute(
            "UPDATE recs.runs SET created_at = ? WHERE run_id = ?", [t0 + timedelta(hours=i), run_id]
        )
        if not good:
            warehouse.execute(
                "DELETE FROM recs.learner_recommendations WHERE learner_id = 'l01' AND run_id = ?", [run_id]
            )
        if run_gate(warehouse, run_id, top_n=TOP_N).success:
            publish(warehouse, run_id, keep_versions=2, now=t0 + timedelta(hours=i, minutes=5))
        if i == 3:  # two failed nights, then n3: n0 served until now and is one rollback away
            assert warehouse.scalar("SELECT status FROM recs.runs WHERE run_id = 'n0'") == "superseded"
            assert rollback(warehouse).run_id == "n0"
            publish(warehouse, "n3", keep_versions=2, now=t0 + timedelta(hours=i, minutes=10), force=True)
    statuses = {r["run_id"]: r["status"] for r in rows_of(warehouse, "SELECT run_id, status FROM recs.runs")}
    assert statuses == {
        "n0": "expired",
        "n1": "expired",
        "n2": "expired",
        "n3": "superseded",
        "n4": "published",
    }
    kept = {
        r["run_id"] for r in rows_of(warehouse, "SELECT DISTINCT run_id FROM recs.learner_recommendations")
    }
    assert kept == {"n3", "n4"}


def test_no_learner_is_served_past_retention_expiry(warehouse, champion, content):
    """The version goes live after the run date closed and serves through the next day: a learner
    whose retention ends that day gets nothing (one expiring just after it still does)."""
    serve_day = datetime.combine(RUN_DATE + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    for learner, expiry in (
        ("l01", serve_day + timedelta(minutes=10)),
        ("l03", serve_day + timedelta(days=1)),
    ):
        warehouse.execute(
            "UPDATE marts.dim_learners SET retention_expiry = ? WHERE learner_id = ?", [expiry, learner]
        )
    run_id = version(warehouse, champion, content, "r1")
    assert run_gate(warehouse, run_id, top_n=TOP_N).success
    publish(warehouse, run_id, keep_versions=3, now=serve_day + timedelta(minutes=30))
    for table in (
        "recs.current_learner_recommendations",
        "recs.current_learning_paths",
        "raw.served_recommendations",
    ):
        served = {r["learner_id"] for r in rows_of(warehouse, f"SELECT DISTINCT learner_id FROM {table}")}
        assert "l01" not in served and "l03" in served, table


def test_a_version_kept_by_failing_gates_stops_serving_each_learner_at_expiry(
    warehouse, champion, content, tmp_path
):
    """No newer version passes the gate for days: the stores still drop l03 once their retention
    ends, at read time in the SQLite store and at each export everywhere."""
    serve_day = datetime.combine(RUN_DATE + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    expiry = serve_day + timedelta(days=3)
    warehouse.execute("UPDATE marts.dim_learners SET retention_expiry = ? WHERE learner_id = 'l03'", [expiry])
    run_id = version(warehouse, champion, content, "kept")
    assert run_gate(warehouse, run_id, top_n=TOP_N).success
    publish(warehouse, run_id, keep_versions=3, now=serve_day)
    path = tmp_path / "serving.sqlite"
    export_sqlite(warehouse, run_id, path, now=serve_day)
    assert lookup_sqlite(path, "l03", now=expiry - timedelta(seconds=1))[0]

    after = expiry + timedelta(hours=1)  # the nights in between published nothing
    assert lookup_sqlite(path, "l03", now=after) == ([], [])
    assert len(lookup_sqlite(path, "l01", now=after)[0]) == TOP_N

    export_sqlite(warehouse, run_id, path, now=after)  # a re-export of the same version
    store = sqlite3.connect(path)
    for table in ("recommendations", "learning_paths", "retention"):
        assert store.execute(f"SELECT count(*) FROM {table} WHERE learner_id = 'l03'").fetchone() == (0,), (
            table
        )
    store.close()
    export_warehouse_table(warehouse, now=after)
    for table in ("recs.serving_recommendations", "recs.serving_learning_paths"):
        served = {r["learner_id"] for r in rows_of(warehouse, f"SELECT DISTINCT learner_id FROM {table}")}
        assert "l03" not in served and "l01" in served, table


class _CrashingScorer:
    """The champion until its second chunk, then the worker dies (OOM, killed pod, ...)."""

    def __init__(self, scorer) -> None:
        self.scorer, self.calls = scorer, 0
        self.model_version, self.signals, self.course_ids = (
            scorer.model_version,
            scorer.signals,
            scorer.course_ids,
        )

    def score(self, learner_ids):
        self.calls += 1
        if self.calls > 1:
            raise MemoryError("worker killed")
        return self.scorer.score(learner_ids)


def test_a_crashed_precompute_is_never_gated_and_its_rows_expire(warehouse, champion, content, monkeypatch):
    from exports.recommendations import precompute as module

    monkeypatch.setattr(module, "WRITE_ROWS", 1)  # every chunk is written before the next
    with pytest.raises(MemoryError):
        precompute(
            warehouse,
            RUN_DATE,
            champion=_CrashingScorer(champion),
            content=content,
            config=RuleConfig(top_n=TOP_N),
            chunk_size=8,
            run_id="crashed",
        )
    assert warehouse.scalar("SELECT count(*) FROM recs.learner_recommendations WHERE run_id = 'crashed'") > 0
    with pytest.raises(ValueError, match="no precomputed version"):
        run_gate(warehouse, "crashed", top_n=TOP_N)  # half a version is never validated
    for i in range(3):  # the retry and the next nights, keeping 2 versions
        run_id = version(warehouse, champion, content, f"n{i}")
        assert run_gate(warehouse, run_id, top_n=TOP_N).success
        publish(warehouse, run_id, keep_versions=2)
    assert warehouse.scalar("SELECT count(*) FROM recs.learner_recommendations WHERE run_id = 'crashed'") == 0
    assert warehouse.scalar("SELECT status FROM recs.runs WHERE run_id = 'crashed'") == "expired"


def test_sqlite_export_is_swapped_atomically_and_serves_lookups(warehouse, champion, content, tmp_path):
    path = tmp_path / "serving" / "recommendations.sqlite"
    first = version(warehouse, champion, content, "s1")
    run_gate(warehouse, first, top_n=TOP_N)
    publish(warehouse, first, keep_versions=3)
    report = export_sqlite(warehouse, first, path)
    assert report.recommendations == 29 * TOP_N and report.path_steps > 0
    reader = sqlite3.connect(path)  # an app holding the old file open
    second = version(warehouse, None, content, "s2")
    run_gate(warehouse, second, top_n=TOP_N)
    publish(warehouse, second, keep_versions=3)
    export_sqlite(warehouse, second, path)
    assert reader.execute("SELECT DISTINCT run_id FROM recommendations").fetchall() == [("s1",)]
    reader.close()
    recs, path_steps = lookup_sqlite(path, "l01")
    assert len(recs) == TOP_N and {r["run_id"] for r in recs} == {"s2"}
    assert (
        recs[0]["title"]
        and recs[0]["reason"]
        and recs[0]["log_id"] == f"{RUN_DATE}:l01:{recs[0]['course_id']}"
    )
    assert [s["step"] for s in path_steps] == list(range(1, len(path_steps) + 1))
    assert not list(path.parent.glob(".*.tmp"))
    plan = (
        sqlite3.connect(path)
        .execute("EXPLAIN QUERY PLAN SELECT * FROM recommendations WHERE learner_id = 'l01'")
        .fetchall()
    )
    assert "PRIMARY KEY" in str(plan) or "USING" in str(plan)  # a keyed lookup, not a scan


def test_failed_sqlite_export_keeps_the_live_file_and_leaves_no_staged_file(
    warehouse, champion, content, tmp_path
):
    path = tmp_path / "serving" / "recommendations.sqlite"
    first = version(warehouse, champion, content, "s1")
    run_gate(warehouse, first, top_n=TOP_N)
    publish(warehouse, first, keep_versions=3)
    export_sqlite(warehouse, first, path)
    second = version(warehouse, None, content, "s2")
    # a row breaking the store's (learner_id, rank) key makes the build fail half-way
    warehouse.execute(
        "INSERT INTO recs.learner_recommendations SELECT * FROM recs.learner_recommendations "
        "WHERE run_id = 's2' AND learner_id = 'l09' AND rank = 1"
    )
    with pytest.raises(sqlite3.IntegrityError):
        export_sqlite(warehouse, second, path)
    assert not list(path.parent.glob(".*.tmp"))  # the staged file of s2 does not linger
    assert {r["run_id"] for r in lookup_sqlite(path, "l01")[0]} == {"s1"}


def test_steps_end_to_end_with_settings(settings, champion, content, capsys):
    with connect_warehouse(settings) as wh:
        build_marts(wh)
    settings = settings.model_copy(update={"recs_top_n": TOP_N})
    report = steps.precompute_step(settings, RUN_DATE, champion=champion, content=content)
    assert steps.gate_step(settings, report.run_id).success
    steps.publish_step(settings, report.run_id)
    exported = steps.export_step(settings)
    assert exported is not None and settings.serving_path.exists()
    with connect_warehouse(settings) as wh:
        assert wh.scalar("SELECT count(*) FROM recs.serving_recommendations") == 29 * TOP_N
        wh.execute("DELETE FROM recs.learner_recommendations WHERE learner_id = 'l01'")
        wh.execute("DELETE FROM recs.runs")  # a fresh version must be precomputed to gate
    second = steps.precompute_step(settings, RUN_DATE, champion=champion, content=content)
    with connect_warehouse(settings) as wh:
        wh.execute(
            "DELETE FROM recs.learner_recommendations WHERE learner_id = 'l01' AND run_id = ?",
            [second.run_id],
        )
    with pytest.raises(steps.GateFailed):
        steps.gate_step(settings, second.run_id)
    from learnrec.commands.showcase import print_recommendation_samples

    print_recommendation_samples(settings)
    out = capsys.readouterr().out
    assert "cold start: l04" in out and "skipped onboarding: l0" in out and "active learner: " in out
    assert "learning path" in out


def test_cli_run_show_and_rollback(settings, capsys):
    """``learnrec recommendations`` end to end: no model trained yet (empty MLflow registry), so
    the registry lookup finds no champion and every warm learner takes the no-results fallback."""
    from learnrec.cli import main

    with connect_warehouse(settings) as wh:
        build_marts(wh)
    assert main(["recommendations", "rollback"]) == 2  # nothing published yet: a usage error
    for _ in range(2):
        assert main(["recommendations", "run", "--run-date", RUN_DATE.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "gate passed" in out and "published" in out and "'no_results': 27" in out
    assert main(["recommendations", "show", "l01"]) == 0
    assert "Top-rated in data" in capsys.readouterr().out
    assert main(["recommendations", "rollback"]) == 0
    assert "rolled back to" in capsys.readouterr().out
    first_run = lookup_sqlite(settings.serving_path, "l01")[0][0]["run_id"]
    with connect_warehouse(settings) as wh:
        assert tables.current_run_id(wh) == first_run  # the export followed the rollback
        undone = wh.scalar("SELECT run_id FROM recs.runs WHERE status = 'rolled_back'")
    assert main(["recommendations", "publish", "--run-id", undone]) == 2  # refused without --force
    assert "was rolled back by an operator" in capsys.readouterr().err
    assert main(["recommendations", "publish", "--run-id", undone, "--force"]) == 0
    assert f"published {undone}" in capsys.readouterr().out
