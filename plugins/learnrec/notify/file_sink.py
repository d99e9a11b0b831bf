"""File sink: the embedded default provider. Each channel's messages go to JSON lines under
``<outbox_path>/<channel>/<nudge_date>.jsonl``, one line per notification.

It is also the reference for provider-side idempotency: the message id is derived from the
notification id, and a notification already in the file is never appended twice, so even a crash
between send and record cannot duplicate a line. One process writes the sink at a time (the
embedded warehouse allows one writer too), so the ids already in a file are read once and cached.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from learnrec.notify.base import Notification

_NAMESPACE = uuid.UUID("6f1c1b9e-2b1e-4f53-9d0c-6c0b0d7a5e11")


class FileSink:
    name = "file"

    def __init__(self, outbox_path: Path) -> None:
        self.outbox_path = Path(outbox_path)
        self._written: dict[Path, set[str]] = {}  # notification ids per file, read once per file

    def path_for(self, notification: Notification) -> Path:
        return self.outbox_path / notification.channel / f"{notification.nudge_date.isoformat()}.jsonl"

    @staticmethod
    def message_id(notification: Notification) -> str:
        return f"file-{uuid.uuid5(_NAMESPACE, notification.notification_id)}"

    def lookup(self, notification: Notification) -> str | None:
        written = self._ids(self.path_for(notification))
        return self.message_id(notification) if notification.notification_id in written else None

    def _ids(self, path: Path) -> set[str]:
        if path not in self._written:
            ids = set()
            if path.exists():
                with path.open(encoding="utf-8", errors="replace") as lines:
                    ids = {_notification_id(line) for line in lines if line.strip()} - {None}
            self._written[path] = ids
        return self._written[path]

    def send(self, notification: Notification) -> str:
        existing = self.lookup(notification)
        if existing:
            return existing
        path = self.path_for(notification)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "message_id": self.message_id(notification),
            "notification_id": notification.notification_id,
            "learner_id": notification.learner_id,
            "channel": notification.channel,
            "to": notification.address,
            "subject": notification.subject,
            "body": notification.body,
            "course_id": notification.course_id,
            "nudge_type": notification.nudge_type,
            "written_at": datetime.now(UTC).isoformat(),
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with path.open("a", encoding="utf-8") as out:
            out.write("\n" + line if _ends_mid_line(path) else line)
            out.flush()
            os.fsync(out.fileno())  # on disk before the outbox can record it as sent
        self._ids(path).add(notification.notification_id)
        return record["message_id"]


def _notification_id(line: str) -> str | None:
    """The id a line records, or None for a torn line (a write cut short by a crash or a full
    disk): that message was never completely written, and one such line must not make every
    later send and lookup of the file fail."""
    try:
        return json.loads(line)["notification_id"]
    except (ValueError, KeyError, TypeError):
        return None


def _ends_mid_line(path: Path) -> bool:
    """Whether the file ends in a torn line, which the next record must not be glued to."""
    with path.open("rb") as data:
        if data.seek(0, os.SEEK_END) == 0:
            return False
        data.seek(-1, os.SEEK_END)
        return data.read(1) != b"\n"
