"""The file erasers on small real files: token matching, only holding files rewritten, models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from exports.privacy.files import Identifiers, erase_model_arrays, erase_parquet, erase_text_files

IDS = Identifiers({"L0000014": "r1", "ana@example.test": "r1", "fcm:APA91-xyz_14": "r1"}, {"L0000014": "r1"})


def test_lines_naming_the_learner_go_and_lookalikes_stay(tmp_path: Path) -> None:
    lines = [
        {"notification_id": "L0000014:inactivity:2026-12-05", "body": "Hi"},  # id inside a key
        {"to": "ana@example.test"},
        {"token": "fcm:APA91-xyz_14"},
        {"learner_id": "L00000141", "to": "bob@example.test"},  # a longer id is someone else
        {"text": "xL0000014y"},  # not the id as a token
    ]
    path = tmp_path / "outbox" / "email" / "2026-12-05.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert erase_text_files(tmp_path / "outbox", IDS) == {"r1": 3}
    assert [json.loads(line) for line in path.read_text().splitlines()] == lines[3:]


def test_only_the_parquet_files_holding_the_learner_are_rewritten(tmp_path: Path) -> None:
    holding, other = tmp_path / "a" / "x.parquet", tmp_path / "b" / "y.parquet"
    for path in (holding, other):
        path.parent.mkdir()
    pq.write_table(pa.table({"learner_id": ["L0000014", "L2", "L0000014"], "n": [1, 2, 3]}), holding)
    pq.write_table(pa.table({"learner_id": ["L2"], "n": [4]}), other)
    for path in (holding, other):  # Spark's checksum files: a stale one fails Hadoop's read
        path.with_name(f".{path.name}.crc").write_bytes(b"crc")
    untouched = other.stat().st_mtime_ns
    assert erase_parquet(str(tmp_path), IDS) == {"r1": 2}
    assert pq.read_table(holding).to_pylist() == [{"learner_id": "L2", "n": 2}]
    assert other.stat().st_mtime_ns == untouched
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        ".y.parquet.crc",
        "a",
        "b",
        "x.parquet",
        "y.parquet",
    ]


def test_a_saved_model_loses_only_the_learners_rows(tmp_path: Path) -> None:
    path = tmp_path / "run" / "model" / "arrays.npz"
    path.parent.mkdir(parents=True)
    # as many learners as courses: rows are told apart by name, not by length
    np.savez(
        path,
        learner_ids=np.array(["L1", "L0000014", "L3"]),
        course_ids=np.array(["C1", "C2", "C3"]),
        user_factors=np.arange(6, dtype=np.float32).reshape(3, 2),
        item_factors=np.ones((3, 2), dtype=np.float32),
    )
    assert erase_model_arrays(tmp_path, IDS) == {"r1": 1}
    with np.load(path) as after:
        assert after["learner_ids"].tolist() == ["L1", "L3"]
        assert after["user_factors"].tolist() == [[0, 1], [4, 5]]
        assert after["course_ids"].tolist() == ["C1", "C2", "C3"] and after["item_factors"].shape == (3, 2)


def test_a_rewrite_keeps_sparks_int96_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "part-00000.parquet"
    at = pa.array([1_700_000_000_000_000, 1_700_000_100_000_000], pa.timestamp("us"))
    pq.write_table(
        pa.table({"learner_id": ["L0000014", "L2"], "at": at}), path, use_deprecated_int96_timestamps=True
    )
    erase_parquet(str(tmp_path), IDS)
    assert pq.ParquetFile(path).schema.column(1).physical_type == "INT96"
    assert pq.read_table(path).column("learner_id").to_pylist() == ["L2"]
