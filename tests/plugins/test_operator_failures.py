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
    assert "Traceback" not in err
    assert setting in err
    assert len(err.strip().splitlines()) == 1, err


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
