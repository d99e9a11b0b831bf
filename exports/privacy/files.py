"""Erase learners from the file stores: Parquet (lake, source snapshots), JSON lines (landing,
outbox, LLM audit) and saved models (``arrays.npz``).

Every rewrite is atomic: the new file is written beside the old one and moved over it, so a
reader (Spark, an app, a crash) sees the old file or the new one, never half of one. Only files
that hold one of the learners are rewritten; a file is checked by reading its ``learner_id``
column alone (Parquet) or its lines (text).

Text files name a learner in free form (an outbox line carries the id, the e-mail address and a
notification id ``learner:type:date``), so identifiers are matched as whole tokens: the
alphanumeric runs of a line (ids, also inside keys and addresses) and its runs of address
characters (e-mails, push tokens).
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

#: Arrays of a saved model (``ml/models.py``) with one row per entry of its ``learner_ids``.
LEARNER_ARRAYS = frozenset({"learner_ids", "user_factors", "user_embeddings", "learner_vectors", "history"})

_ALNUM = re.compile(r"[A-Za-z0-9]+")
_ADDRESS = re.compile(r"[\w.@+:-]+")


class Identifiers:
    """The identifiers being erased, each mapped to its request."""

    def __init__(self, by_identifier: dict[str, str], learner_ids: dict[str, str]) -> None:
        self.by_identifier = by_identifier
        self.learner_ids = learner_ids

    def named_in(self, text: str) -> str | None:
        """The request whose learner ``text`` names, if any."""
        for token in _ALNUM.findall(text):
            if token in self.by_identifier:
                return self.by_identifier[token]
        for token in _ADDRESS.findall(text):
            if token in self.by_identifier:
                return self.by_identifier[token]
        return None


def atomic_bytes(path: Path, data: bytes) -> None:
    staged = path.with_name(f".{path.name}.erasing")
    staged.write_bytes(data)
    os.replace(staged, path)


# --- Parquet ---------------------------------------------------------------------------------------
def _parquet_files(fs: pafs.FileSystem, root: str) -> Iterator[str]:
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    for info in fs.get_file_info(selector):
        name = info.base_name
        if info.type == pafs.FileType.File and name.endswith(".parquet") and not name.startswith((".", "_")):
            yield info.path


def erase_parquet(root: str, ids: Identifiers) -> Counter[str]:
    """Rewrite the Parquet files below ``root`` (path or URI) that hold the learners' rows."""
    fs, base = pafs.FileSystem.from_uri(root) if "://" in root else (pafs.LocalFileSystem(), root)
    wanted = pa.array(sorted(ids.learner_ids), pa.string())
    removed: Counter[str] = Counter()
    for path in _parquet_files(fs, base):
        with fs.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            if "learner_id" not in parquet.schema_arrow.names:
                continue
            learners = parquet.read(columns=["learner_id"]).column(0)
            # Spark writes timestamps as INT96: a rewrite keeps them so, or Spark's read of the
            # folder meets two physical types for one column and fails
            int96 = any(column.physical_type == "INT96" for column in parquet.schema)
        hit = pc.is_in(learners, value_set=wanted)
        if not pc.any(hit).as_py():
            continue
        with fs.open_input_file(path) as handle:
            table = pq.read_table(handle)
        for learner, n in Counter(pc.filter(learners, hit).to_pylist()).items():
            removed[ids.learner_ids[learner]] += n
        kept = table.filter(pc.invert(pc.fill_null(hit, False)))
        folder, name = posixpath.split(path)
        staged = posixpath.join(folder, f".{name}.erasing")
        with fs.open_output_stream(staged) as out:
            pq.write_table(kept, out, compression="zstd", use_deprecated_int96_timestamps=int96)
        # Hadoop's local file system checks a file against its ``.<name>.crc`` (Spark writes one
        # beside every part file): without it nothing is checked, with a stale one the read fails
        checksum = posixpath.join(folder, f".{name}.crc")
        if fs.get_file_info(checksum).type == pafs.FileType.File:
            fs.delete_file(checksum)
        fs.move(staged, path)
    return removed


# --- JSON lines and JSON documents -----------------------------------------------------------------
def filter_lines(data: bytes, ids: Identifiers) -> tuple[bytes, Counter[str], int]:
    """``data`` without the lines naming a learner; removed per request, and bytes removed."""
    kept, removed, dropped = [], Counter(), 0
    for line in data.splitlines(keepends=True):
        request = ids.named_in(line.decode("utf-8", errors="replace"))
        if request is None:
            kept.append(line)
        else:
            removed[request] += 1
            dropped += len(line)
    return b"".join(kept), removed, dropped


def erase_text_files(root: Path, ids: Identifiers, pattern: str = "*.jsonl") -> Counter[str]:
    """Drop the lines naming a learner from every ``pattern`` file below ``root``."""
    removed: Counter[str] = Counter()
    for path in sorted(root.rglob(pattern)) if root.exists() else []:
        data = path.read_bytes()
        rest, found, _ = filter_lines(data, ids)
        if found:
            atomic_bytes(path, rest)
            removed.update(found)
    return removed


def erase_json_arrays(root: Path, ids: Identifiers) -> dict[Path, tuple[bytes, Counter[str]]]:
    """Rewrite each JSON-array file below ``root`` without its elements naming a learner; returns
    the new content and counts per rewritten file (the caller updates what recorded the old one)."""
    rewritten = {}
    for path in sorted(root.rglob("*.json")) if root.exists() else []:
        try:
            items = json.loads(path.read_bytes())
        except ValueError:
            continue  # not a document the platform can read: its quarantine row says so
        if not isinstance(items, list):
            continue
        kept, removed = [], Counter()
        for item in items:
            request = ids.named_in(json.dumps(item))
            if request is None:
                kept.append(item)
            else:
                removed[request] += 1
        if removed:
            content = json.dumps(kept).encode()
            atomic_bytes(path, content)
            rewritten[path] = (content, removed)
    return rewritten


# --- saved models -------------------------------------------------------------------------------------
def erase_model_arrays(root: Path, ids: Identifiers) -> Counter[str]:
    """Remove the learners' rows from every saved model below ``root`` (``arrays.npz`` with
    ``learner_ids``): such a model then scores them as unknown, everyone else exactly as before."""
    removed: Counter[str] = Counter()
    for path in sorted(root.rglob("arrays.npz")) if root.exists() else []:
        with np.load(path, allow_pickle=False) as npz:
            if "learner_ids" not in npz.files:
                continue
            arrays = {name: npz[name] for name in npz.files}
        learners = arrays["learner_ids"].astype(str)
        hit = np.isin(learners, list(ids.learner_ids))
        if not hit.any():
            continue
        for learner in learners[hit]:
            removed[ids.learner_ids[learner]] += 1
        kept = {name: (values[~hit] if name in LEARNER_ARRAYS else values) for name, values in arrays.items()}
        buffer = io.BytesIO()
        np.savez(buffer, **kept)
        atomic_bytes(path, buffer.getvalue())
    return removed
