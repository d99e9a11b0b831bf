"""A closed-loop HTTP/1.1 load generator: ``connections`` keep-alive connections, each sending its
next request as soon as the previous answer is read, for ``seconds`` after a warm-up.

Raw asyncio streams (uvloop), requests pre-built as bytes and answers read by Content-Length, so
that one core of load drives one server worker; the floor is measured by the same generator, so
what the generator costs is in both figures."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int  # answers other than the expected status
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def request_bytes(url: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    host = urlsplit(url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    url: str, requests, expect: int, until: float, warm: float, out: list, errors: list
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        while (start := time.perf_counter()) < until:
            writer.write(next(requests))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if start >= warm:
                out.append(time.perf_counter() - start)
                if status != expect:
                    errors.append(status)
    finally:
        writer.close()


async def _run(
    url: str, requests: Sequence[bytes], connections: int, seconds: float, warmup: float, expect: int
):
    cycle = itertools.cycle(requests)
    begin = time.perf_counter()
    warm, until = begin + warmup, begin + warmup + seconds
    latencies: list[float] = []
    errors: list[int] = []
    await asyncio.gather(
        *(_connection(url, cycle, expect, until, warm, latencies, errors) for _ in range(connections))
    )
    measured = max(time.perf_counter() - warm, 1e-9)
    return latencies, errors, measured


def run_load(
    url: str,
    requests: Sequence[bytes],
    *,
    connections: int = 8,
    seconds: float = 10.0,
    warmup: float = 2.0,
    expect: int = 200,
) -> LoadResult:
    import uvloop

    latencies, errors, measured = uvloop.run(_run(url, requests, connections, seconds, warmup, expect))
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return LoadResult(
        requests=len(latencies),
        seconds=measured,
        errors=len(errors),
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
    )
