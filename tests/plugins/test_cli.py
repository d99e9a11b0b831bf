"""The learnrec command: every stage has a subcommand, bad arguments fail clearly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from learnrec.cli import COMMANDS, main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:  # module names use underscores where commands use hyphens
        assert name.replace("_", "-") in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--size", "huge"], "invalid choice"),
        (["generate", "--learners", "-5"], "must be positive"),
        (["generate", "--end-date", "2026-13-01"], "not a date"),
        (["generate", "--bad-share", "1.5"], "must be in [0, 1)"),
        (["no-such-stage"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_usage_errors_exit_2_without_traceback(learnrec_home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "unknown suite" in err and "Traceback" not in err


def test_generate_writes_a_world(learnrec_home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--size", "tiny", "--end-date", "2026-10-31", "--seed", "3"]) == 0
    manifest = json.loads((learnrec_home / "world" / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 3
    assert manifest["summary"]["events"] > 100
    assert "landing:" in capsys.readouterr().out


def test_console_entry_point_is_installed() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "learnrec.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "generate" in out.stdout


def test_generate_refuses_a_used_home_without_force(
    learnrec_home, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--size", "tiny", "--end-date", "2026-10-31", "--seed", "3"]
    pending = learnrec_home / "landing" / "api" / "not-yet-ingested.jsonl"
    pending.parent.mkdir(parents=True)
    pending.write_text("{}\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds 1 files" in err and "would delete" in err and "--force" in err
    assert not (learnrec_home / "world").exists()

    assert main([*argv, "--force"]) == 0
    assert main(argv) == 2  # the world it just wrote makes the home used, too
    assert "would delete" in capsys.readouterr().err


def test_generate_refuses_a_home_whose_warehouse_exists(
    learnrec_home, capsys: pytest.CaptureFixture[str]
) -> None:
    learnrec_home.mkdir()
    (learnrec_home / "warehouse.duckdb").write_bytes(b"")
    assert main(["generate", "--size", "tiny", "--end-date", "2026-10-31"]) == 2
    assert "the warehouse" in capsys.readouterr().err
