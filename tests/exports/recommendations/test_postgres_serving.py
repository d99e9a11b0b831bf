"""Serving export into a real PostgreSQL server (started here from the local server binaries;
skipped where none are installed)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from exports.recommendations.gate import run_gate
from exports.recommendations.precompute import precompute
from exports.recommendations.publish import publish
from exports.recommendations.serving import export_postgres
from ml.ranking.rules import RuleConfig

from .conftest import RUN_DATE

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(cmd: list[str], user: str | None) -> None:
    if user:
        cmd = ["su", user, "-c", " ".join(cmd)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    user = None
    data = tempfile.mkdtemp(prefix="learnrec-pg-")
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            pytest.skip("running as root without a postgres user")
        os.chown(data, entry.pw_uid, entry.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _run([initdb, "-D", data, "-A", "trust", "-U", "postgres"], user)
    _run(
        [pg_ctl, "-D", data, "-l", f"{data}/log", "-o", f"'-p {port} -k {data} -h 127.0.0.1'", "-w", "start"],
        user,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], user)
        shutil.rmtree(data, ignore_errors=True)


def test_postgres_export_swaps_versions(warehouse, champion, content, postgres_dsn):
    import psycopg

    for run_id, scorer in (("p1", champion), ("p2", None)):
        precompute(
            warehouse, RUN_DATE, champion=scorer, content=content, config=RuleConfig(top_n=10), run_id=run_id
        )
        assert run_gate(warehouse, run_id, top_n=10).success
        publish(warehouse, run_id, keep_versions=3)
        report = export_postgres(warehouse, run_id, postgres_dsn)
        assert report.recommendations == 29 * 10 and report.path_steps > 0
        assert export_postgres(warehouse, run_id, postgres_dsn) == report  # a retried export task
        with psycopg.connect(postgres_dsn) as con:
            rows = con.execute(
                "SELECT rank, course_id, reason, signals_used, run_id FROM recommendations "
                "WHERE learner_id = 'l01' ORDER BY rank"
            ).fetchall()
            assert [r[0] for r in rows] == list(range(1, 11))
            assert {r[4] for r in rows} == {run_id}
            assert isinstance(rows[0][3], list) and rows[0][2]
            tables = {
                r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
            assert tables == {"recommendations", "learning_paths"}  # staged and previous tables are gone
            con.execute("SET enable_seqscan = off")  # tiny tables would be scanned anyway
            plan = " ".join(
                r[0] for r in con.execute("EXPLAIN SELECT * FROM recommendations WHERE learner_id = 'l01'")
            )
            assert "using recommendations_pk on" in plan  # the lookup by learner uses the key
