"""ops.alerts: one row per (source, condition, day), with or without a run id."""

from __future__ import annotations

from datetime import UTC, date, datetime

from exports.recommendations import steps
from learnrec.alerts import ALERTS, Alert, ensure_alerts_table, raise_alert
from learnrec.warehouse import connect_warehouse

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_an_alert_is_raised_once_per_condition_and_day_also_without_run_id(settings):
    with connect_warehouse(settings) as warehouse:
        ensure_alerts_table(warehouse)
        alert = Alert(
            "monitoring", "drift:engagement_score:psi", date(2026, 3, 1), "PSI 0.4 > 0.2", figure=0.4
        )
        assert raise_alert(warehouse, alert, now=NOW)
        assert not raise_alert(warehouse, alert, now=NOW)  # a retried task, run_id null
        assert raise_alert(warehouse, Alert(**{**alert.__dict__, "alert_date": date(2026, 3, 2)}), now=NOW)
        rows = warehouse.query(f"SELECT alert_date, condition, figure FROM {ALERTS} ORDER BY alert_date")
        assert rows.to_pylist() == [
            {"alert_date": date(2026, 3, 1), "condition": "drift:engagement_score:psi", "figure": 0.4},
            {"alert_date": date(2026, 3, 2), "condition": "drift:engagement_score:psi", "figure": 0.4},
        ]


def test_an_alerts_table_of_the_older_shape_gets_the_new_columns(settings):
    with connect_warehouse(settings) as warehouse:
        warehouse.execute("CREATE SCHEMA IF NOT EXISTS ops")
        warehouse.execute(
            f"CREATE TABLE {ALERTS} (alert_id VARCHAR, raised_at TIMESTAMPTZ, severity VARCHAR, "
            "source VARCHAR, run_id VARCHAR, message VARCHAR)"
        )
        ensure_alerts_table(warehouse)
        assert raise_alert(warehouse, Alert("recommendations", "gate:r1", NOW.date(), "failed"), now=NOW)


def test_a_scorer_that_fails_on_every_retry_alerts_once_a_day(settings, monkeypatch):
    from ml import serving

    # an unreadable model store, which cannot be made to fail on cue here: loaders that raise
    for name in ("load_champion_scorer", "load_content_scorer"):

        def broken(*_):
            raise OSError("artifact store unreachable")

        broken.__name__ = name
        monkeypatch.setattr(serving, name, broken)
    with connect_warehouse(settings) as warehouse:
        ensure_alerts_table(warehouse)
        for _ in range(3):  # the task and two retries
            assert steps.load_scorers(settings, warehouse) == (None, None)
        alerts = warehouse.query(f"SELECT condition, run_id FROM {ALERTS} ORDER BY condition").to_pylist()
    assert alerts == [
        {"condition": "load_champion_scorer", "run_id": None},
        {"condition": "load_content_scorer", "run_id": None},
    ]
