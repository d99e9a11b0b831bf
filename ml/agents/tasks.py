"""Entry points for DAG tasks and the CLI: open settings and the warehouse, run one agent, return a
small summary (XCom-sized)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from learnrec.settings import get_settings
from learnrec.warehouse import connect_warehouse


def run_metadata_agent(force: bool = False) -> dict[str, object]:
    """AI Metadata Agent over new and changed courses (course_catalog DAG)."""
    from ml.agents.metadata import infer_course_metadata

    settings = get_settings()
    with connect_warehouse(settings) as warehouse:
        return asdict(infer_course_metadata(settings, warehouse, force=force))


def run_chunk_index() -> dict[str, int]:
    """Re-index the Q&A chunks of new and changed courses (course_catalog DAG)."""
    from ml.agents.chunks import index_course_chunks

    settings = get_settings()
    with connect_warehouse(settings) as warehouse:
        return asdict(index_course_chunks(settings, warehouse))


def run_learning_path_agent(run_id: str) -> dict[str, object]:
    """LLM learning paths beside the static ones of ``run_id`` (nightly DAG, before the publish gate)."""
    from ml.agents.learning_path import plan_llm_learning_paths

    settings = get_settings()
    with connect_warehouse(settings) as warehouse:
        return asdict(plan_llm_learning_paths(settings, warehouse, run_id))


def run_reengagement_agent(run_date: date | str) -> int:
    """Today's NudgeDrafts into ``recs.nudge_drafts`` (learner_nudges DAG); returns how many."""
    from ml.agents.reengagement import draft_nudges

    day = date.fromisoformat(run_date) if isinstance(run_date, str) else run_date
    settings = get_settings()
    with connect_warehouse(settings) as warehouse:
        return len(draft_nudges(settings, warehouse, day))
