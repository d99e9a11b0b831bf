"""Where the feature jobs read and write in the lake, and the manifests that make them incremental.

Layout under ``settings.lake_root`` (INTERFACES.md)::

    events/event_date=D/hour=HH/<batch_id>.parquet       ingest's output (append-only, read here)
    features/daily_learner/event_date=D/                 per learner and event day (rollups)
    features/daily_course/event_date=D/                  per course and event day (rollups)
    features/daily_manifests/event_date=D.json           event files the rollups of D were built from
    features/state/learner/run_date=D/                   lifetime per learner, as of run D
    features/state/learner_course/run_date=D/            lifetime per learner and course, as of run D
    features/state/manifests/run_date=D.json             event files folded into the state of run D
    features/learner_features/run_date=D/                published learner features
    features/course_features/run_date=D/                 published course features

Incrementality rests on one assumption about ingest's lake: an event file, once written, never
changes or disappears (late events arrive as new files in the old day's folder). A manifest lists
the event files (relative to their day folder) that an output was computed from, so a run knows
exactly which files are new: the day's own files, and late files of earlier days. A file that
disappeared breaks the assumption and stops the run (:class:`LakeError`) instead of silently
producing features that match no history.

Paths go through ``pyarrow.fs``, so the lake may be a local folder or object storage (``s3://``,
``gs://``; Spark reads the same URIs through its Hadoop connectors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow.fs as pafs

EVENT_FILE_SUFFIX = ".parquet"


class LakeError(RuntimeError):
    """The lake does not look like the append-only event history the jobs rely on."""


@dataclass(frozen=True)
class Lake:
    root: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.rstrip("/"))

    @property
    def fs(self) -> pafs.FileSystem:
        return self._resolve("")[0]

    def _resolve(self, relative: str) -> tuple[pafs.FileSystem, str]:
        uri = f"{self.root}/{relative}".rstrip("/")
        if "://" in uri:
            return pafs.FileSystem.from_uri(uri)
        return pafs.LocalFileSystem(), uri

    def uri(self, relative: str) -> str:
        """A path Spark can read or write (same string the filesystem resolves)."""
        return f"{self.root}/{relative}"

    # --- events ---------------------------------------------------------------------------
    def event_day(self, day: date) -> str:
        return f"events/event_date={day.isoformat()}"

    def event_days(self) -> list[date]:
        """Every event day present in the lake (one directory listing)."""
        fs, path = self._resolve("events")
        found = []
        for info in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
            name = info.base_name
            if info.type == pafs.FileType.Directory and name.startswith("event_date="):
                found.append(date.fromisoformat(name.removeprefix("event_date=")))
        return sorted(found)

    def event_files(self, day: date) -> frozenset[str]:
        """Event files of one day, relative to the day folder (``hour=HH/<batch>.parquet``)."""
        fs, path = self._resolve(self.event_day(day))
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
        return frozenset(
            info.path[len(path) :].lstrip("/")
            for info in infos
            if info.type == pafs.FileType.File
            and info.base_name.endswith(EVENT_FILE_SUFFIX)
            and not info.base_name.startswith((".", "_"))
        )

    def event_file_uris(self, day: date, files: frozenset[str] | set[str]) -> list[str]:
        return [self.uri(f"{self.event_day(day)}/{name}") for name in sorted(files)]

    # --- manifests --------------------------------------------------------------------------
    def read_json(self, relative: str) -> dict[str, Any] | None:
        fs, path = self._resolve(relative)
        if fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with fs.open_input_stream(path) as stream:
            return json.loads(stream.read().decode("utf-8"))

    def write_json(self, relative: str, content: dict[str, Any]) -> None:
        """Write via a temporary name and move: a reader sees the old or the new manifest."""
        fs, path = self._resolve(relative)
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        tmp = f"{path}.tmp"
        with fs.open_output_stream(tmp) as stream:
            stream.write(json.dumps(content, indent=1, sort_keys=True).encode("utf-8"))
        fs.move(tmp, path)

    def exists(self, relative: str) -> bool:
        fs, path = self._resolve(relative)
        return fs.get_file_info(path).type != pafs.FileType.NotFound

    # daily rollups
    def daily_manifest_path(self, day: date) -> str:
        return f"features/daily_manifests/event_date={day.isoformat()}.json"

    def daily_files(self, day: date) -> frozenset[str] | None:
        """Event files the rollups of ``day`` were built from; None if never built."""
        content = self.read_json(self.daily_manifest_path(day))
        return None if content is None else frozenset(content["files"])

    def record_daily(self, day: date, files: frozenset[str]) -> None:
        self.write_json(
            self.daily_manifest_path(day), {"event_date": day.isoformat(), "files": sorted(files)}
        )

    # lifetime state snapshots
    def state_manifest_path(self, run_date: date) -> str:
        return f"features/state/manifests/run_date={run_date.isoformat()}.json"

    def latest_state_before(self, run_date: date) -> date | None:
        """The newest complete state snapshot strictly before ``run_date``."""
        fs, path = self._resolve("features/state/manifests")
        dates = []
        for info in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
            name = info.base_name
            if name.startswith("run_date=") and name.endswith(".json"):
                day = date.fromisoformat(name.removeprefix("run_date=").removesuffix(".json"))
                if day < run_date:
                    dates.append(day)
        return max(dates) if dates else None

    def state_files(self, run_date: date) -> dict[date, frozenset[str]]:
        content = self.read_json(self.state_manifest_path(run_date)) or {"days": {}}
        return {date.fromisoformat(d): frozenset(files) for d, files in content["days"].items()}

    def record_state(self, run_date: date, folded: dict[date, frozenset[str]]) -> None:
        """Written last: a snapshot without its manifest is ignored (never half-used)."""
        self.write_json(
            self.state_manifest_path(run_date),
            {
                "run_date": run_date.isoformat(),
                "days": {d.isoformat(): sorted(files) for d, files in sorted(folded.items())},
            },
        )

    def state_path(self, table: str, run_date: date) -> str:
        return f"features/state/{table}/run_date={run_date.isoformat()}"

    def output_path(self, table: str, run_date: date) -> str:
        return f"features/{table}/run_date={run_date.isoformat()}"

    def rollup_root(self, table: str) -> str:
        return f"features/{table}"

    def rollup_path(self, table: str, day: date) -> str:
        return f"features/{table}/event_date={day.isoformat()}"

    def prune(
        self,
        state_from: date,
        rollups_from: date,
        state_tables: tuple[str, ...],
        rollup_tables: tuple[str, ...],
    ) -> int:
        """Delete state snapshots before ``state_from`` and rollups before ``rollups_from``;
        returns the number of folders and manifests removed.

        Safe at any horizon: a run or backfill that finds no snapshot before its date bootstraps
        from the event files, and a missing rollup is rebuilt from its day's files; pruning only
        bounds storage.
        """
        # manifests first (a snapshot without its manifest is ignored), then the data
        targets = [("features/state/manifests", "run_date=", state_from)]
        targets += [("features/daily_manifests", "event_date=", rollups_from)]
        targets += [(f"features/state/{t}", "run_date=", state_from) for t in state_tables]
        targets += [(f"features/{t}", "event_date=", rollups_from) for t in rollup_tables]
        fs = self.fs
        removed = 0
        for folder, prefix, keep_from in targets:
            _, path = self._resolve(folder)
            for info in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
                name = info.base_name
                if not name.startswith(prefix) or name.endswith(".tmp"):
                    continue
                if date.fromisoformat(name.removeprefix(prefix).removesuffix(".json")) >= keep_from:
                    continue
                if info.type == pafs.FileType.Directory:
                    fs.delete_dir(info.path)
                else:
                    fs.delete_file(info.path)
                removed += 1
        return removed
