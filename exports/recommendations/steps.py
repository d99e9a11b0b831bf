"""One function per nightly step, called alike by the DAG tasks, the CLI and the tests.

precompute -> gate -> publish -> export. Each opens the configured warehouse, does its one thing
and returns a small report; the run id travels between them (XCom in Airflow).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from exports.recommendations import tables
from exports.recommendations.gate import GateResult, run_gate
from exports.recommendations.precompute import PrecomputeReport, precompute
from exports.recommendations.publish import Switch, publish, rollback
from exports.recommendations.serving import (
    ExportReport,
    export_postgres,
    export_sqlite,
    export_warehouse_table,
)
from learnrec.alerts import Alert, raise_alert
from learnrec.settings import Settings
from learnrec.warehouse import Warehouse, connect_warehouse
from learnrec.warehouse.locks import stage_lock
from ml.ranking.rules import RuleConfig
from ml.scoring import CandidateScorer

log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """The version failed the gate: it is not published, the current one keeps serving."""


def rule_config(settings: Settings) -> RuleConfig:
    return RuleConfig(top_n=settings.recs_top_n, diversity_k=settings.recs_diversity_k)


def load_scorers(
    settings: Settings, warehouse: Warehouse
) -> tuple[CandidateScorer | None, CandidateScorer | None]:
    """The champion blend and the content scorer; None where not available.

    Without a champion (not trained yet) the affected learners take the product's no-results
    fallback. An unexpected loading failure does the same, but also raises a warning alert so
    that a broken model does not silently degrade recommendations.
    """
    from ml import serving

    found: list[CandidateScorer | None] = []
    for loader in (serving.load_champion_scorer, serving.load_content_scorer):
        try:
            found.append(loader(settings, warehouse))
        except serving.NoChampionError as exc:
            log.warning("%s: %s; using the no-results fallback", loader.__name__, exc)
            found.append(None)
        except Exception as exc:  # the product's fallback exists for an engine that cannot answer
            log.exception("%s failed; using the no-results fallback", loader.__name__)
            now = datetime.now(UTC)
            message = f"{loader.__name__} failed: {exc!r}"
            alert = Alert("recommendations", loader.__name__, now.date(), message, severity="warning")
            raise_alert(warehouse, alert, now=now)
            found.append(None)
    return found[0], found[1]


def precompute_step(
    settings: Settings,
    run_date: date,
    *,
    champion: CandidateScorer | None = None,
    content: CandidateScorer | None = None,
    use_registry: bool = True,
) -> PrecomputeReport:
    """Precompute a new version for ``run_date``; scorers come from the registry unless given."""
    with connect_warehouse(settings) as warehouse:
        tables.ensure_tables(warehouse)
        if use_registry and champion is None and content is None:
            champion, content = load_scorers(settings, warehouse)
        return precompute(
            warehouse,
            run_date,
            champion=champion,
            content=content,
            config=rule_config(settings),
            chunk_size=settings.recs_chunk_size,
            control_share=settings.control_share,
        )


def gate_step(settings: Settings, run_id: str) -> GateResult:
    """Run the gate; raise :class:`GateFailed` (after recording the alert) if it fails."""
    with connect_warehouse(settings) as warehouse:
        result = run_gate(warehouse, run_id, top_n=settings.recs_top_n)
    if not result.success:
        raise GateFailed(result.describe())
    return result


def publish_step(settings: Settings, run_id: str, *, force: bool = False) -> Switch:
    with connect_warehouse(settings) as warehouse, stage_lock(warehouse, "publish", settings):
        return publish(warehouse, run_id, keep_versions=settings.recs_keep_versions, force=force)


def export_step(settings: Settings, *, now: datetime | None = None) -> ExportReport | None:
    """Export the current version to the serving stores (None: nothing published yet)."""
    with connect_warehouse(settings) as warehouse, stage_lock(warehouse, "export", settings):
        return export_current(warehouse, settings, now=now)


def export_current(
    warehouse: Warehouse, settings: Settings, *, now: datetime | None = None
) -> ExportReport | None:
    """:func:`export_step` on an open connection (the privacy eraser re-exports after erasing),
    less the learners whose retention has ended by ``now``."""
    now = now or datetime.now(UTC)
    run_id = tables.current_run_id(warehouse)
    if run_id is None:
        return None
    export_warehouse_table(warehouse, now=now)
    if settings.serving_store == "postgres":
        dsn = settings.serving_postgres_dsn.get_secret_value()  # type: ignore[union-attr]
        return export_postgres(warehouse, run_id, dsn, now=now)
    from ml.embeddings import vector_index

    return export_sqlite(warehouse, run_id, settings.serving_path, vector_index(settings, warehouse), now=now)


def rollback_step(settings: Settings) -> Switch:
    """Go back one version and re-export it, so apps serve it at once."""
    with connect_warehouse(settings) as warehouse, stage_lock(warehouse, "publish", settings):
        switch = rollback(warehouse)
    export_step(settings)
    return switch
