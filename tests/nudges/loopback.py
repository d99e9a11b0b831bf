"""Loopback HTTP stand-ins for SendGrid and Google (FCM + OAuth token), and the transport adapter
that forwards the real firebase-admin SDK's HTTPS calls to them.

Nothing here is a mock of the client libraries: the real ``sendgrid`` and ``firebase-admin``
code builds, signs and sends real HTTP requests; only the far end is a small server the test
controls (there is no internet here, and no real Google or SendGrid credentials).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests.adapters


@dataclass
class Reply:
    status: int
    body: dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # read the request, then close the connection without answering
    raw: bytes | None = None  # answer with these bytes instead of a well-formed response


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | list | str | None


class LoopbackServer:
    """Answers each request from a script of replies per path prefix (the last reply repeats)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.scripts: dict[str, list[Reply]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                try:
                    body: dict | list | str | None = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw
                server.requests.append(
                    Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = server.next_reply(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop or reply.raw is not None:
                    self.wfile.write(reply.raw or b"")
                    self.close_connection = True
                    return
                payload = json.dumps(reply.body).encode() if reply.body is not None else b""
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def script(self, path_prefix: str, *replies: Reply) -> None:
        self.scripts[path_prefix] = list(replies)

    def next_reply(self, path: str) -> Reply:
        for prefix, replies in self.scripts.items():
            if path.startswith(prefix):
                return replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply(404, {"error": f"no script for {path}"})

    def to(self, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


class ForwardingAdapter(requests.adapters.HTTPAdapter):
    """Sends whatever the session addresses (https://fcm.googleapis.com/..., the OAuth token URL)
    to the loopback server instead, keeping path and query."""

    def __init__(self, target: str) -> None:
        super().__init__(max_retries=0)
        self.target = urlsplit(target)

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        parts = urlsplit(request.url)
        request.url = urlunsplit((self.target.scheme, self.target.netloc, parts.path, parts.query, ""))
        return super().send(request, **kwargs)


def fake_service_account(path: Path, project_id: str = "learnrec-test") -> Path:
    """A throwaway service-account file with an RSA key generated now (never a real key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "test-key-generated-at-runtime",
        "private_key": pem,
        "client_email": f"nudges@{project_id}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return path


TOKEN_REPLY = Reply(200, {"access_token": "loopback-token", "expires_in": 3600, "token_type": "Bearer"})


def fcm_ok(message_number: int, project_id: str = "learnrec-test") -> Reply:
    return Reply(200, {"name": f"projects/{project_id}/messages/{message_number}"})


def fcm_error(status: int, grpc_status: str, fcm_code: str | None = None, message: str = "") -> Reply:
    error: dict = {"code": status, "message": message or grpc_status, "status": grpc_status}
    if fcm_code:
        error["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    return Reply(status, {"error": error})
