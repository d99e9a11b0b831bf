"""What may be read from the landing folder, and reading it with bounded memory.

The landing folder is written by others: anything can appear there. Only regular ``*.jsonl``
files whose real path lies inside the landing root are read; every other entry (a link, a
directory named like a file, a compressed or unknown file, a name that is not UTF-8, an entry
that cannot be read) becomes a quarantine row with its reason, and is never opened, so that
one bad entry neither blocks the others nor copies a file from elsewhere into the warehouse.

Files are read in blocks, so a line longer than the limit is counted and skipped (its first
bytes kept for the quarantine row) without ever being held whole.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Quarantine reasons of landing entries (beside validation's, ``validate.REASONS``, whose
#: ``too_large`` is also given to lines over the limit).
LANDING_REASONS: dict[str, str] = {
    "unreadable_name": "the entry's name is not UTF-8",
    "unreadable": "the entry could not be read (permissions, I/O error)",
    "not_a_file": "not a regular file: a directory, a link, a device",
    "outside_landing": "a link that resolves outside the landing folder",
    "compressed": "a compressed file: only uncompressed JSON lines are read",
    "unknown_extension": "not a .jsonl file",
}
EVENTS_SUFFIX = ".jsonl"
#: Written, not yet published (renamed when complete): never read, never reported.
WRITING_SUFFIX = ".tmp"
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".snappy")
#: Bytes of a rejected line kept in its quarantine row (enough to recognise it).
HEAD_BYTES = 256
BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class Entry:
    """One entry of the landing folder: ``reason`` None means a file to read."""

    relative: str  # below the landing root, printable (bytes that are not UTF-8 as \\xNN)
    path: Path
    size: int = 0  # bytes, as listed
    reason: str | None = None
    detail: str = ""


def printable(path: str | Path) -> str:
    """The path as text whatever its bytes (a name that is not UTF-8 keeps its bytes visible)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _classify(landing: Path, root: str, path: Path) -> Entry:
    relative = printable(path.relative_to(landing).as_posix())
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return Entry(relative, path, reason="unreadable_name", detail=f"{relative}: the name is not UTF-8")
    try:
        info = path.lstat()
    except OSError as exc:
        return Entry(relative, path, reason="unreadable", detail=f"{relative}: {exc.strerror}")
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        if os.path.commonpath([root, target]) != root:
            return Entry(
                relative,
                path,
                info.st_size,
                "outside_landing",
                f"{relative} links outside the landing folder",
            )
        return Entry(
            relative, path, info.st_size, "not_a_file", f"{relative} is a link (dangling or to another entry)"
        )
    if stat.S_ISDIR(info.st_mode):
        return Entry(relative, path, info.st_size, "not_a_file", f"{relative} is a directory")
    if not stat.S_ISREG(info.st_mode):
        return Entry(relative, path, info.st_size, "not_a_file", f"{relative} is not a regular file")
    name = path.name.lower()
    if name.endswith(COMPRESSED_SUFFIXES):
        return Entry(
            relative, path, info.st_size, "compressed", f"{relative} is compressed; land it uncompressed"
        )
    if not name.endswith(EVENTS_SUFFIX):
        return Entry(
            relative, path, info.st_size, "unknown_extension", f"{relative} is not a {EVENTS_SUFFIX} file"
        )
    return Entry(relative, path, info.st_size)


def scan(landing: Path, folder: Path) -> Iterator[Entry]:
    """Every entry below ``folder`` but directories and files being written, in path order;
    links are never followed. A directory named like a data file is reported (and walked)."""
    root = os.path.realpath(landing)
    problems: list[OSError] = []
    for here, dirs, files in os.walk(folder, followlinks=False, onerror=problems.append):
        dirs.sort()
        base = Path(here)
        for name in dirs:
            path = base / name
            if path.is_symlink() or name.lower().endswith((EVENTS_SUFFIX, ".json", *COMPRESSED_SUFFIXES)):
                yield _classify(landing, root, path)
        for name in sorted(files):
            if not name.endswith(WRITING_SUFFIX):
                yield _classify(landing, root, base / name)
    for exc in problems:
        path = Path(exc.filename)
        relative = printable(path.relative_to(landing).as_posix())
        yield Entry(relative, path, reason="unreadable", detail=f"{relative}: {exc.strerror}")


@dataclass(frozen=True)
class Lines:
    """The lines of a byte range: those within the limit, and the numbers, sizes and first bytes
    of those over it."""

    text: pa.Array  # large_string, the kept lines
    numbers: np.ndarray  # int64, 1-based line number of each kept line
    too_large: list[tuple[int, int, str]]  # (line number, bytes, its first HEAD_BYTES bytes as text)


def read_lines(
    data: BinaryIO, n_bytes: int, *, first_line: int, max_line_bytes: int, block_bytes: int = BLOCK_BYTES
) -> Lines:
    """Split ``n_bytes`` of ``data`` into lines (the final newline ends the last line; every
    other line, blank or not, is one), holding at most a block plus one line in memory."""
    texts: list[pa.Array] = []
    numbers: list[np.ndarray] = []
    too_large: list[tuple[int, int, str]] = []
    line, carry, remaining = first_line, b"", n_bytes
    skipped: tuple[int, bytes] | None = None  # (bytes so far, head) of an over-long line being skipped
    while remaining > 0:
        block = data.read(min(block_bytes, remaining))
        if not block:
            break
        remaining -= len(block)
        if skipped is not None:
            end = block.find(b"\n")
            if end < 0:
                skipped = (skipped[0] + len(block), skipped[1])
                continue
            too_large.append((line, skipped[0] + end, _text(skipped[1])))
            line, skipped, block = line + 1, None, block[end + 1 :]
        text = carry + block
        cut = text.rfind(b"\n") + 1
        complete, carry = text[:cut], text[cut:]
        if complete:
            parts = split_lines(complete[:-1])
            sizes = pc.binary_length(parts).to_numpy(zero_copy_only=False)
            keep = sizes <= max_line_bytes
            too_large += [
                (line + int(i), int(sizes[i]), parts[int(i)].as_py()[:HEAD_BYTES])
                for i in np.flatnonzero(~keep)
            ]
            texts.append(parts.filter(pa.array(keep)))
            numbers.append(np.arange(line, line + len(parts), dtype=np.int64)[keep])
            line += len(parts)
        if len(carry) > max_line_bytes:
            skipped, carry = (len(carry), carry[:HEAD_BYTES]), b""
    if skipped is not None:  # the last line, without its newline, over the limit
        too_large.append((line, skipped[0], _text(skipped[1])))
    elif carry:  # the last line, without its newline
        texts.append(split_lines(carry))
        numbers.append(np.array([line], np.int64))
    return Lines(
        text=pa.concat_arrays(texts) if texts else pa.array([], pa.large_string()),
        numbers=np.concatenate(numbers) if numbers else np.zeros(0, np.int64),
        too_large=too_large,
    )


def split_lines(data: bytes) -> pa.Array:
    r"""The lines of ``data`` split at each newline (``b""`` is one blank line), as text: bytes that
    are not UTF-8 become ``\xNN`` escapes ."""
    parts = pc.list_flatten(pc.split_pattern(pa.array([data], pa.large_binary()), b"\n"))
    try:
        return parts.cast(pa.large_string())
    except pa.ArrowInvalid:
        return pa.array(
            [b.decode("utf-8", errors="backslashreplace") for b in parts.to_pylist()], pa.large_string()
        )


def _text(head: bytes) -> str:
    return head.decode("utf-8", errors="backslashreplace")
