"""Property test of hostile landing folders: whatever entries appear (names that are not UTF-8,
links in and out, directories named like data files, random bytes, lines over the limit), an
ingest run never raises, records every entry exactly once, and reads nothing outside the root."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learnrec.ingest import run_ingest
from learnrec.ingest.landing import LANDING_REASONS, printable
from learnrec.settings import load_settings
from learnrec.warehouse import connect_warehouse
from learnrec.warehouse.sources import load_source_snapshots
from learnrec.world.kafka import landing_files
from tests.plugins.ingest.conftest import NOW
from tests.plugins.world.conftest import make_world

MAX_LINE_BYTES = 256  # the setting's minimum: oversize lines stay small
HOUR = Path("learner_events/date=2026-10-30/hour=10")
SECRET = b"SECRET-OUTSIDE-LANDING"
KINDS = ("file", "link_out", "link_out_dir", "link_in", "dangling", "dir")

#: Python-level opens while an ingest runs (landing files are opened through os.open).
OPENED: list[str] = []
RECORDING: list[bool] = []


def _record_open(event: str, args: tuple) -> None:
    if RECORDING and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_record_open)  # audit hooks cannot be removed: it records only while RECORDING


@dataclass(frozen=True)
class Template:
    warehouse: Path  # a DuckDB file with the tiny world's sources loaded, copied per example
    lines: list[bytes]  # real landing lines (valid, duplicate, late and bad ones)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    world = make_world(
        tmp_path_factory.mktemp("fuzz-world"), n_learners=40, n_courses=30, days=3, bad_share=0.1
    )
    with connect_warehouse(world.settings) as warehouse:
        load_source_snapshots(warehouse, world.settings.landing_path)
    first = sorted(landing_files(world.settings.landing_path))[0]
    return Template(world.settings.warehouse_path, first.read_bytes().splitlines()[:20])


name_bytes = st.lists(
    st.sampled_from([b"a", b"b", b"Z", b"0", b"-", b" ", b"\xff", b"\xc3", b"\xc3\xa9"]),
    min_size=1,
    max_size=6,
).map(b"".join)
suffixes = st.sampled_from([b".jsonl", b".jsonl", b".json", b".jsonl.gz", b".txt", b""])


def _lines(template_lines: list[bytes]) -> st.SearchStrategy[bytes]:
    line = st.one_of(
        st.sampled_from(template_lines),
        st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
        st.integers(MAX_LINE_BYTES + 1, MAX_LINE_BYTES + 64).map(lambda n: b"{" + b"x" * n),
    )
    return st.tuples(st.lists(line, max_size=5), st.booleans()).map(
        lambda parts: b"\n".join(parts[0]) + (b"\n" if parts[1] and parts[0] else b"")
    )


def entries(template_lines: list[bytes]) -> st.SearchStrategy[list[tuple[str, bytes, bytes]]]:
    """(kind, name, content) for each entry; names made unique by an index prefix."""
    kind = st.sampled_from(["file", "file", *KINDS])
    entry = st.tuples(kind, st.tuples(name_bytes, suffixes).map(b"".join), _lines(template_lines))
    return st.lists(entry, min_size=1, max_size=8).map(
        lambda items: [(k, b"%d-" % i + name, data) for i, (k, name, data) in enumerate(items)]
    )


def _n_lines(data: bytes) -> int:
    """Lines as ingestion counts them: the final newline ends the last line."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _readable(name: bytes) -> bool:
    """A name ingestion reads: UTF-8 and ``*.jsonl`` (anything else is quarantined unread)."""
    try:
        return name.decode("utf-8").endswith(".jsonl")
    except UnicodeDecodeError:
        return False


def _make(root: Path, outside: Path, items: list[tuple[str, bytes, bytes]]) -> dict[str, int | None]:
    """Create the entries; -> relative path as recorded: lines to read, or None for an entry only
    quarantined."""
    folder = root / HOUR
    folder.mkdir(parents=True)
    expected: dict[str, int | None] = {}
    first_file: bytes | None = None
    for kind, name, data in items:
        path = os.fsencode(folder) + b"/" + name
        if kind == "file":
            with open(path, "wb") as f:
                f.write(data)
            first_file = first_file or path
        elif kind == "link_out":
            os.symlink(os.fsencode(outside / "secret.jsonl"), path)
        elif kind == "link_out_dir":
            os.symlink(os.fsencode(outside), path)
        elif kind == "link_in" and first_file:
            os.symlink(first_file, path)
        elif kind == "dangling" or kind == "link_in":
            os.symlink(path + b".nowhere", path)
        else:
            os.mkdir(path + b".jsonl")
            name += b".jsonl"
        relative = printable(HOUR.as_posix() + "/" + os.fsdecode(name))
        expected[relative] = _n_lines(data) if kind == "file" and _readable(name) else None
    return expected


@pytest.mark.integration
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_any_landing_folder_is_landed_or_quarantined_exactly_once(
    template: Template, data: st.DataObject
) -> None:
    # one entry of each kind in every example, then the drawn ones: each defence is always exercised
    fixed = [
        ("file", b"f-good.jsonl", b"\n".join(template.lines[:3]) + b"\n"),
        *((kind, b"f-" + kind.encode() + b".jsonl", b"") for kind in KINDS if kind != "file"),
    ]
    items = [*fixed, *data.draw(entries(template.lines))]
    with tempfile.TemporaryDirectory() as scratch:
        home, outside = Path(scratch) / "home", Path(scratch) / "outside"
        outside.mkdir()
        (outside / "secret.jsonl").write_bytes(SECRET + b"\n")
        (outside / "inner.jsonl").write_bytes(SECRET + b"\n")
        expected = _make(home / "landing", outside, items)
        shutil.copy(template.warehouse, Path(scratch) / "warehouse.duckdb")
        run_settings = load_settings(
            home=home, duckdb_path=Path(scratch) / "warehouse.duckdb", ingest_max_line_bytes=MAX_LINE_BYTES
        )
        OPENED.clear()
        RECORDING.append(True)
        try:
            report = run_ingest(run_settings, now=lambda: NOW)
        finally:
            RECORDING.clear()
        again = run_ingest(run_settings, now=lambda: NOW)
        with connect_warehouse(run_settings) as warehouse:
            recorded = Counter(warehouse.query("SELECT path FROM raw.ingest_files").column(0).to_pylist())
            quarantine = warehouse.query(
                "SELECT source_uri, source_offset, reason, payload FROM raw.quarantined_events"
            ).to_pylist()
            events = warehouse.query("SELECT source_uri, source_offset FROM raw.learner_events").to_pylist()
        # resolved while the links still exist
        opened_outside = [p for p in OPENED if Path(p).resolve().is_relative_to(outside.resolve())]

    assert recorded == Counter(expected.keys()), "every entry recorded exactly once"
    assert again.batches == [], "and never again"
    whole = {q["source_uri"]: q["reason"] for q in quarantine if q["source_offset"] == 0}
    assert set(whole) == {rel for rel, lines in expected.items() if lines is None}, "each odd entry once"
    assert set(whole.values()) <= set(LANDING_REASONS)
    rows = [(q["source_uri"], q["source_offset"]) for q in quarantine if q["source_offset"] > 0]
    assert len(rows) == len(set(rows)), "no line quarantined twice"
    # an odd entry counts as one consumed and quarantined payload
    assert report.total("consumed") == sum(n for n in expected.values() if n is not None) + len(whole)
    assert report.total("loaded") + report.total("quarantined") + report.total("duplicates") == (
        report.total("consumed")
    )
    assert {e["source_uri"] for e in events} <= {rel for rel, n in expected.items() if n}
    assert not any(SECRET.decode() in q["payload"] for q in quarantine), "nothing outside is copied in"
    assert opened_outside == [], "nor opened"
