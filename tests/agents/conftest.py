"""Fixtures of the agent tests: a loopback LLM server speaking the Anthropic Messages and OpenAI
Chat Completions wire formats (the real client libraries talk to it; no internet here), and a
tiny synthetic world loaded into a fresh warehouse."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from learnrec.settings import Settings, load_settings

WORLD_END = date(2026, 11, 20)


@dataclass
class Reply:
    """What the server answers to one request: an assistant text, or an HTTP error status."""

    text: str = ""
    status: int = 200
    delay: float = 0.0
    input_tokens: int = 120
    output_tokens: int = 40


@dataclass
class LLMServer:
    url: str
    #: maps each request body to a reply; tests replace it
    respond: Callable[[dict], Reply] = field(default=lambda body: Reply("{}"))
    requests: list[dict] = field(default_factory=list)

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def prompts(self) -> list[str]:
        """All text a client sent (system and messages), one string per request."""
        return [json.dumps(body) for body in self.requests]


def _handler(server: LLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append(body)
            reply = server.respond(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                payload = {"type": "error", "error": {"type": "api_error", "message": "boom"}}
            elif self.path.endswith("/v1/messages"):
                payload = {
                    "id": "msg_test",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": reply.text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
                }
            else:
                payload = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": reply.input_tokens,
                        "completion_tokens": reply.output_tokens,
                        "total_tokens": reply.input_tokens + reply.output_tokens,
                    },
                }
            data = json.dumps(payload).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

    return Handler


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    state = LLMServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def llm_settings(home: Path, server: LLMServer, provider: str = "anthropic", **overrides: object) -> Settings:
    """Settings pointing the gateway at the loopback server, with fast retries for tests."""
    base: dict[str, object] = {
        "home": home,
        "llm_provider": provider,
        "llm_timeout_seconds": 2.0,
        "llm_backoff_seconds": 0.01,
        "llm_max_retries": 2,
        "llm_breaker_failures": 2,
    }
    if provider == "anthropic":
        base |= {"anthropic_api_key": "test-key", "anthropic_base_url": server.anthropic_base_url}
    else:
        base |= {"openai_base_url": server.openai_base_url, "openai_model": "local-model"}
    return load_settings(**(base | overrides))


@pytest.fixture(scope="session")
def world_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny-preset world (landing files, snapshots, ground truth), generated once per session."""
    from learnrec.world.config import preset
    from learnrec.world.generate import generate_world

    home = tmp_path_factory.mktemp("world-home")
    generate_world(preset("tiny", WORLD_END), load_settings(home=home))
    return home


@pytest.fixture(scope="session")
def world_landing(world_home: Path) -> Path:
    return load_settings(home=world_home).landing_path


@pytest.fixture
def warehouse(settings: Settings, world_landing: Path):
    """A fresh warehouse with the tiny world's operational snapshots in ``raw``."""
    from learnrec.warehouse import connect_warehouse
    from learnrec.warehouse.sources import load_source_snapshots

    with connect_warehouse(settings) as wh:
        load_source_snapshots(wh, world_landing)
        yield wh


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder (384-d, unit rows).

    Stands in for MiniLM in tests of indexing and the Q&A deadline: MiniLM runs here but loading
    and encoding the catalogue takes minutes on the shared 2 cores, and neither change detection
    nor the deadline logic depends on which model embeds. MiniLM itself is tested in test_qa.py.
    """

    name = "hash-bow"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def encode(self, texts: list[str]):
        import re
        import zlib

        import numpy as np

        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9/]+", text.lower()):
                out[i, zlib.crc32(word.encode()) % 384] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


def leaked(records: list[logging.LogRecord], needles: list[str]) -> list[str]:
    """Log lines, as any handler would format them (traceback included), that hold a needle."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = [formatter.format(record) for record in records]
    return [line for line in lines for needle in needles if needle in line]
