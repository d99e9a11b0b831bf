"""Hostile landing folders: every entry is landed, or quarantined with its reason, and recorded;
one bad entry never blocks the good files; lines and fields over their limits are quarantined
without being held whole."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path

import pytest

from learnrec.ingest import run_ingest
from learnrec.ingest.landing import read_lines
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from tests.plugins.ingest.conftest import NOW, Expected

pytestmark = pytest.mark.usefixtures("loaded_sources")


def events_folder(settings: Settings) -> Path:
    return settings.landing_path / "learner_events"


def a_good_line(settings: Settings) -> str:
    first = sorted(events_folder(settings).rglob("*.jsonl"))[0]
    for line in first.read_text().splitlines():
        with connect_warehouse(settings) as warehouse:
            known = warehouse.scalar(
                "SELECT count(*) FROM raw.learners WHERE learner_id = ?", [json.loads(line)["learner_id"]]
            )
        if known:
            return line
    raise AssertionError("no valid line in the world")


def hostile_entries(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """Bad entries beside the world's files, named so that they sort first; -> name: reason."""
    hour = sorted(p for p in events_folder(settings).rglob("hour=*") if p.is_dir())[0]
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (hour / "a-passwd.jsonl").symlink_to(secret)
    (hour / "a-dangling.jsonl").symlink_to(hour / "nowhere.jsonl")
    (hour / "a-dir.jsonl").mkdir()
    (hour / "a-events.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00")
    (hour / "a-events.json").write_text("{}\n")
    (hour / "a-notes.txt").write_text("hello\n")
    raw = os.fsencode(hour) + b"/a-\xff\xfe.jsonl"
    with open(raw, "wb") as f:
        f.write(b"{}\n")
    rel = hour.relative_to(settings.landing_path).as_posix()
    return {
        f"{rel}/a-passwd.jsonl": "outside_landing",
        f"{rel}/a-dangling.jsonl": "not_a_file",
        f"{rel}/a-dir.jsonl": "not_a_file",
        f"{rel}/a-events.jsonl.gz": "compressed",
        f"{rel}/a-events.json": "unknown_extension",
        f"{rel}/a-notes.txt": "unknown_extension",
        f"{rel}/a-\\xff\\xfe.jsonl": "unreadable_name",
    }


def test_every_hostile_entry_is_quarantined_with_its_reason_and_the_good_files_land(
    settings: Settings, expected: Expected, tmp_path: Path
) -> None:
    bad = hostile_entries(settings, tmp_path)
    report = run_ingest(settings, now=lambda: NOW)
    assert report.total("loaded") == len(expected.event_ids), "the good files landed whole"
    with connect_warehouse(settings) as warehouse:
        rows = warehouse.query(
            "SELECT source_uri, reason, payload FROM raw.quarantined_events WHERE source_offset = 0"
        ).to_pylist()
        recorded = set(warehouse.query("SELECT path FROM raw.ingest_files").column(0).to_pylist())
    assert {r["source_uri"]: r["reason"] for r in rows} == bad
    assert all(r["payload"] == "" for r in rows), "no bad entry is read, /etc/passwd-like files included"
    assert set(bad) <= recorded
    assert report.total("quarantined") == expected.rejected + len(bad)
    # reported once: a rerun quarantines nothing again
    assert run_ingest(settings, now=lambda: NOW).batches == []


def test_a_line_over_the_limit_is_quarantined_as_too_large(
    settings: Settings, expected: Expected, monkeypatch
) -> None:
    good = a_good_line(settings)
    hour = sorted(p for p in events_folder(settings).rglob("hour=*") if p.is_dir())[0]
    huge = json.dumps({**json.loads(good), "course_id": "x" * 300_000})
    (hour / "b-big.jsonl").write_text(f"{good}\n{huge}\n{good}\n")
    report = run_ingest(settings, now=lambda: NOW)
    with connect_warehouse(settings) as warehouse:
        rows = warehouse.query(
            "SELECT source_offset, reason, reason_detail, length(payload) AS n FROM raw.quarantined_events "
            "WHERE source_uri LIKE '%b-big.jsonl'"
        ).to_pylist()
    assert rows == [
        {"source_offset": 2, "reason": "too_large", "reason_detail": rows[0]["reason_detail"], "n": 256}
    ]
    assert "LEARNREC_INGEST_MAX_LINE_BYTES" in rows[0]["reason_detail"]
    assert report.total("loaded") == len(expected.event_ids)


def test_a_field_over_the_limit_is_quarantined_as_too_large(settings: Settings) -> None:
    good = json.loads(a_good_line(settings))
    long_module = {
        **good,
        "event_type": "watch",
        "metadata": {"watch_duration_seconds": 5, "module_id": "m" * 600},
    }
    hour = sorted(p for p in events_folder(settings).rglob("hour=*") if p.is_dir())[0]
    (hour / "b-field.jsonl").write_text(json.dumps(long_module) + "\n")
    run_ingest(settings, now=lambda: NOW)
    with connect_warehouse(settings) as warehouse:
        row = warehouse.query(
            "SELECT reason, reason_detail FROM raw.quarantined_events WHERE source_uri LIKE '%b-field.jsonl'"
        ).to_pylist()
    assert row == [
        {"reason": "too_large", "reason_detail": "text values longer than 512 characters: metadata.module_id"}
    ]


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_lines_are_numbered_and_cut_alike_whatever_the_block(block: int) -> None:
    data = b'{"a":1}\n\n' + b"y" * 300 + b'\n\xff{"b":2}\n' + b"z" * 301 + b"\nlast"
    lines = read_lines(io.BytesIO(data), len(data), first_line=5, max_line_bytes=300, block_bytes=block)
    assert lines.text.to_pylist() == ['{"a":1}', "", "y" * 300, '\\xff{"b":2}', "last"]
    assert lines.numbers.tolist() == [5, 6, 7, 8, 10]
    assert [(n, size) for n, size, _ in lines.too_large] == [(9, 301)]


def test_a_50_mb_line_is_never_held_whole() -> None:
    data = io.BytesIO(b'{"a":1}\n' + b"x" * (50 << 20) + b'\n{"b":2}\n')
    tracemalloc.start()
    lines = read_lines(
        data, len(data.getvalue()), first_line=1, max_line_bytes=64 * 1024, block_bytes=1 << 20
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert lines.text.to_pylist() == ['{"a":1}', '{"b":2}']
    assert lines.too_large[0][:2] == (2, 50 << 20)
    assert peak < 8 << 20, f"peak {peak:,} bytes while reading"
