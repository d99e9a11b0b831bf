"""Where accepted payloads go before the API answers: the configured event source's producer side.

* :class:`LandingSink`: JSON lines appended to ``<landing>/<folder>/date=D/hour=H/api-….jsonl.tmp``
  and fsynced before the answer; the file is published by renaming it to ``.jsonl`` (what
  ingestion's file source reads: it never reads a ``.tmp``) when its hour ends, when it reaches
  ``landing_rotate_bytes`` or at ``landing_rotate_seconds`` of age. ``.tmp`` files that a dead
  process left behind are published at start (their fsynced lines were acknowledged; a torn last
  line never was, and is cut off).
* :class:`KafkaSink`: produced with ``acks=all`` and the idempotent producer, keyed by learner,
  and the answer waits for every delivery report; a message not delivered within
  ``kafka_delivery_timeout_seconds`` fails (``message.timeout.ms``), so nothing is delivered after
  the API answered 503: the client's retry is the only copy, or a redelivery ingestion dedupes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class SinkUnavailable(RuntimeError):
    """The payloads could not be handed on; the client should retry later (503)."""


class Sink(Protocol):
    def send(self, payloads: Sequence[str], keys: Sequence[str]) -> None: ...

    def close(self) -> None: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path) -> Path:
    final = tmp.with_suffix("")  # x.jsonl.tmp -> x.jsonl
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return final


class LandingSink:
    def __init__(self, folder: Path, rotate_seconds: float, rotate_bytes: int) -> None:
        self.folder = folder
        self.rotate_seconds = rotate_seconds
        self.rotate_bytes = rotate_bytes
        self.lock = threading.Lock()
        self.file: Path | None = None
        self.handle = None
        self.hour = ""
        self.opened = 0.0
        self.prefix = f"api-{socket.gethostname()}-{os.getpid()}-"
        self.recover()

    def recover(self) -> list[Path]:
        """Publish the ``.tmp`` files of dead writers (older than two rotation periods)."""
        published = []
        for tmp in sorted(self.folder.rglob("api-*.jsonl.tmp")) if self.folder.exists() else []:
            if time.time() - tmp.stat().st_mtime < 2 * self.rotate_seconds:
                continue
            data = tmp.read_bytes()
            keep = data[: data.rfind(b"\n") + 1]
            if len(keep) < len(data):
                log.warning(
                    "%s: cut a torn last line (%d bytes, never acknowledged)", tmp, len(data) - len(keep)
                )
                with tmp.open("r+b") as handle:
                    handle.truncate(len(keep))
                    os.fsync(handle.fileno())
            published.append(_publish(tmp))
        return published

    def _rotate_if_due(self, now: datetime) -> None:
        hour = now.strftime("date=%Y-%m-%d/hour=%H")
        if self.handle is not None and (
            hour != self.hour
            or self.handle.tell() >= self.rotate_bytes
            or time.monotonic() - self.opened >= self.rotate_seconds
        ):
            self._close_current()
        if self.handle is None and hour:
            self.hour = hour
            directory = self.folder / hour
            directory.mkdir(parents=True, exist_ok=True)
            self.file = directory / f"{self.prefix}{uuid.uuid4().hex[:12]}.jsonl.tmp"
            self.handle = self.file.open("ab")
            self.opened = time.monotonic()

    def _close_current(self) -> None:
        if self.handle is None or self.file is None:
            return
        self.handle.close()
        self.handle = None
        _publish(self.file)

    def send(self, payloads: Sequence[str], keys: Sequence[str]) -> None:
        data = "".join(f"{p}\n" for p in payloads).encode("utf-8")
        with self.lock:
            try:
                self._rotate_if_due(datetime.now(UTC))
                assert self.handle is not None
                self.handle.write(data)
                self.handle.flush()
                os.fsync(self.handle.fileno())
            except OSError as exc:
                raise SinkUnavailable(f"landing folder not writable: {exc}") from exc

    def publish_due(self) -> None:
        """Publish the open file if its hour or age is up (called by the app's timer)."""
        with self.lock:
            if self.handle is not None:
                hour = datetime.now(UTC).strftime("date=%Y-%m-%d/hour=%H")
                if hour != self.hour or time.monotonic() - self.opened >= self.rotate_seconds:
                    self._close_current()

    def close(self) -> None:
        with self.lock:
            self._close_current()


class KafkaSink:
    def __init__(self, config: dict[str, object], topic: str, timeout_seconds: float) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.timeout = timeout_seconds
        self.producer = Producer(
            {
                **{k: v for k, v in config.items() if k != "group.id"},
                "acks": "all",
                "enable.idempotence": True,
                "message.timeout.ms": int(timeout_seconds * 1000),
                "linger.ms": 2,
            }
        )

    def send(self, payloads: Sequence[str], keys: Sequence[str]) -> None:
        from confluent_kafka import KafkaException

        pending = [len(payloads)]
        errors: list[str] = []
        counted = threading.Lock()  # reports may be served by another request's poll thread

        def delivered(err: object, _msg: object) -> None:
            with counted:
                pending[0] -= 1
                if err is not None:
                    errors.append(str(err))

        try:
            for payload, key in zip(payloads, keys, strict=True):
                while True:
                    try:
                        self.producer.produce(
                            self.topic, payload.encode("utf-8"), key.encode(), on_delivery=delivered
                        )
                        break
                    except BufferError:  # local queue full: serve delivery reports, then retry
                        self.producer.poll(0.05)
        except KafkaException as exc:
            raise SinkUnavailable(f"kafka refused the message: {exc}") from exc
        deadline = time.monotonic() + self.timeout + 1.0
        while pending[0] > 0 and time.monotonic() < deadline:
            self.producer.poll(0.01)
        if pending[0] > 0 or errors:
            raise SinkUnavailable(
                f"kafka did not acknowledge {pending[0] + len(errors)} of {len(payloads)} messages: "
                f"{errors[0] if errors else 'timeout'}"
            )

    def close(self) -> None:
        self.producer.flush(self.timeout)
