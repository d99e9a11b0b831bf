"""The landing sink: fsynced appends, publication by rename, and a dead writer's files recovered."""

from __future__ import annotations

import os
import time
from pathlib import Path

from exports.api.sinks import LandingSink


def test_a_dead_writers_tmp_file_is_published_without_its_torn_line(tmp_path: Path):
    hour = tmp_path / "date=2026-12-06" / "hour=18"
    hour.mkdir(parents=True)
    dead = hour / "api-host-123-abc.jsonl.tmp"
    dead.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')  # killed mid-write: the last line was never acknowledged
    young = hour / "api-host-456-def.jsonl.tmp"  # a live writer's file: left alone
    young.write_bytes(b'{"d":4}\n')
    old = time.time() - 600
    os.utime(dead, (old, old))
    LandingSink(tmp_path, rotate_seconds=60, rotate_bytes=1 << 20).close()
    assert (hour / "api-host-123-abc.jsonl").read_bytes() == b'{"a":1}\n{"b":2}\n'
    assert not dead.exists() and young.exists()


def test_appends_are_published_by_size_and_on_close(tmp_path: Path):
    sink = LandingSink(tmp_path, rotate_seconds=3600, rotate_bytes=20)
    sink.send(['{"n":1}', '{"n":2}', '{"n":3}'], ["a", "b", "c"])  # 24 bytes: over the size
    sink.send(['{"n":4}'], ["d"])  # rotates first, then starts a new file
    published = sorted(tmp_path.rglob("*.jsonl"))
    assert len(published) == 1 and published[0].read_text().splitlines() == ['{"n":1}', '{"n":2}', '{"n":3}']
    sink.close()
    lines = sorted(line for p in tmp_path.rglob("*.jsonl") for line in p.read_text().splitlines())
    assert lines == ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}'] and not list(tmp_path.rglob("*.tmp"))
