"""Environment failures end in one sentence naming the setting to check, exit 1, no traceback.

Each runs the real failure: a DuckDB file locked by another process, a home this user cannot write,
a Kafka broker and a Snowflake endpoint nobody listens on, a Java that cannot start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from learnrec.cli import main

LEARNREC = str(Path(sys.executable).with_name("learnrec"))


def _fails_clearly(err: str, setting: str) -> None:
    """No traceback; the last line (after any library's own log lines) is the one sentence."""
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("learnrec ") and ": error: " in last and setting in last, err


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound and released: the OS will not hand it out at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def locked_warehouse(learnrec_home: Path) -> Iterator[Path]:
    """The warehouse file held open for writing by another process, as a running stage would."""
    path = learnrec_home / "warehouse.duckdb"
    learnrec_home.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield path
    finally:
        holder.communicate("")


def test_held_duckdb_lock(locked_warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest"]) == 1
    err = capsys.readouterr().err
    _fails_clearly(err, "LEARNREC_DUCKDB_PATH")
    assert "locked by another process" in err and "PID" in err


def test_verbose_keeps_the_traceback(locked_warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "ingest"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "LEARNREC_DUCKDB_PATH" in err.splitlines()[-1]


def test_read_only_home() -> None:
    with tempfile.TemporaryDirectory() as scratch:  # not under pytest's 0700 tmp: nobody must reach it
        home = Path(scratch) / "home"
        home.mkdir()
        home.chmod(0o555)
        Path(scratch).chmod(0o755)
        # root writes anywhere whatever the mode: drop to nobody to make the home truly read-only
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNREC_")}
        env |= {"LEARNREC_HOME": str(home), "HOME": scratch}
        out = subprocess.run(
            [*as_user, LEARNREC, "generate", "--size", "tiny"], capture_output=True, text=True, env=env
        )
    assert out.returncode == 1
    _fails_clearly(out.stderr, "LEARNREC_HOME")
    assert "permission denied" in out.stderr


@pytest.fixture
def loaded_home(learnrec_home: Path) -> Path:
    """A tiny world with its sources loaded: the stages get as far as their backend."""
    assert main(["generate", "--size", "tiny", "--end-date", "2026-10-31"]) == 0
    assert main(["load-sources"]) == 0
    return learnrec_home


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEARNREC, *argv], capture_output=True, text=True, env=os.environ | env, timeout=120
    )


def test_kafka_unreachable(loaded_home: Path, closed_port: int) -> None:
    out = _run(
        ["ingest"], LEARNREC_EVENT_SOURCE="kafka", LEARNREC_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port}"
    )
    assert out.returncode == 1
    _fails_clearly(out.stderr, "LEARNREC_KAFKA_BOOTSTRAP_SERVERS")


def test_snowflake_unreachable(learnrec_home: Path, closed_port: int) -> None:
    out = _run(
        ["ingest"],
        LEARNREC_WAREHOUSE="snowflake",
        LEARNREC_SNOWFLAKE_ACCOUNT="acme",
        LEARNREC_SNOWFLAKE_USER="etl",
        LEARNREC_SNOWFLAKE_PASSWORD="not-a-secret",
        LEARNREC_SNOWFLAKE_HOST="127.0.0.1",
        LEARNREC_SNOWFLAKE_PORT=str(closed_port),
        LEARNREC_SNOWFLAKE_PROTOCOL="http",
    )
    assert out.returncode == 1
    _fails_clearly(out.stderr, "LEARNREC_SNOWFLAKE_ACCOUNT")
    assert "cannot connect to Snowflake" in out.stderr


def test_missing_java(loaded_home: Path) -> None:
    no_java = str(Path(sys.executable).parent) + ":/bin"  # spark-class runs $JAVA_HOME/bin/java
    out = _run(["features", "--run-date", "2026-10-31"], JAVA_HOME="/nonexistent", PATH=no_java)
    assert out.returncode == 1
    _fails_clearly(out.stderr, "JAVA_HOME")


def test_duckdb_permission_denied_is_one_sentence() -> None:
    """DuckDB raises its own IOException for a file it may not open; as root this machine cannot
    make the real one happen (root opens any file), so the library's exception is built here."""
    import duckdb

    from learnrec.failures import explain

    error = duckdb.IOException('IO Error: Cannot open file "/srv/w.duckdb": Permission denied')
    message = explain(RuntimeError("while connecting"))
    assert message is None  # a bug stays a traceback
    wrapped = RuntimeError("connect failed")
    wrapped.__cause__ = error
    assert "LEARNREC_DUCKDB_PATH" in (explain(wrapped) or "")


@pytest.mark.integration
def test_replaying_to_an_unreachable_broker_is_a_kafka_failure(tmp_path: Path, closed_port: int) -> None:
    """`generate --kafka` at a broker nobody answers on ends in the Kafka sentence, not a traceback."""
    from confluent_kafka import KafkaException

    from learnrec.failures import explain
    from learnrec.world.kafka import produce_landing_to_kafka
    from tests.plugins.world.conftest import make_world

    world = make_world(tmp_path, n_learners=40, n_courses=40, days=1)
    with pytest.raises(KafkaException) as raised:
        produce_landing_to_kafka(world.landing, f"127.0.0.1:{closed_port}", "learner-events", flush_seconds=1)
    assert "LEARNREC_KAFKA_BOOTSTRAP_SERVERS" in (explain(raised.value) or "")
