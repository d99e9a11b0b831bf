"""One generated world shared by the statistical tests of this folder (about a second to build)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from learnrec.settings import Settings, load_settings
from learnrec.world.config import WorldConfig
from learnrec.world.generate import WorldSummary, generate_world

END = date(2026, 10, 31)


@dataclass(frozen=True)
class World:
    config: WorldConfig
    settings: Settings
    summary: WorldSummary
    manifest: dict

    @property
    def landing(self) -> Path:
        return self.settings.landing_path

    @property
    def truth(self) -> Path:
        return self.settings.world_path / "ground_truth"

    def lines(self) -> list[tuple[str, str]]:
        """(arrival date of the file, line) for every landed line."""
        out = []
        for path in sorted((self.landing / "learner_events").glob("date=*/hour=*/*.jsonl")):
            arrival = path.parent.parent.name.removeprefix("date=")
            out.extend((arrival, line) for line in path.read_text().splitlines())
        return out

    def events(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with view ``e`` over the well-formed landed events."""
        con = duckdb.connect()
        con.execute(f"""
            CREATE VIEW e AS SELECT learner_id, event_type, course_id, TRY_CAST(timestamp AS TIMESTAMPTZ) AS ts,
                   metadata.watch_duration_seconds::INT AS watch, metadata.quiz_score::DOUBLE AS quiz
            FROM read_json('{self.landing}/learner_events/*/*/*.jsonl', format='newline_delimited',
                           ignore_errors=true,
                           columns={{learner_id:'VARCHAR', event_type:'VARCHAR', course_id:'VARCHAR',
                                    timestamp:'VARCHAR', metadata:'STRUCT(watch_duration_seconds VARCHAR, quiz_score VARCHAR, module_id VARCHAR)'}})
            WHERE event_type IN ('click','watch','skip','complete','search','quiz_score')
              AND learner_id IS NOT NULL AND TRY_CAST(timestamp AS TIMESTAMPTZ) < TIMESTAMPTZ '2090-01-01' AND learner_id NOT LIKE 'L9%'
              AND TRY_CAST(metadata.quiz_score AS DOUBLE) IS NOT DISTINCT FROM metadata.quiz_score::DOUBLE
        """)
        return con


def make_world(home: Path, **overrides: object) -> World:
    settings = load_settings(home=home)
    params = {"end_date": END, "n_learners": 800, "n_courses": 250, "days": 28, "seed": 11}
    params.update(overrides)
    config = WorldConfig(**params)  # type: ignore[arg-type]
    summary = generate_world(config, settings)
    manifest = json.loads((settings.world_path / "manifest.json").read_text())
    return World(config, settings, summary, manifest)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("world"))
