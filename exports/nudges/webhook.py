"""Receiver for SendGrid's Signed Event Webhook: delivery events land as files, then get ingested.

SendGrid POSTs batches of events (delivered, open, click, bounce, dropped, unsubscribe, ...) to a
URL we give it. This receiver only authenticates and lands them; ``feedback.py`` (the
``ingest_notification_events`` step of the learner_nudges DAG) reads the landing folder, so the
warehouse is never written from a request thread and a warehouse outage loses nothing.

Per request (``POST /sendgrid/events``):

* the ECDSA signature (headers ``X-Twilio-Email-Event-Webhook-Signature`` / ``-Timestamp``, over
  timestamp + body) is verified with ``sendgrid.helpers.eventwebhook.EventWebhook`` and the
  public key from ``LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY``: missing headers are 401, a signature
  that does not verify is 403, each with one warning log line naming the client;
* the body must be what ``feedback.sendgrid_body`` accepts (a UTF-8 JSON array), else 400. Single
  events are not judged here: one unattributable event must not make SendGrid retry the batch
  forever, so ingestion quarantines it with its reason;
* the signed body is written verbatim to ``<landing>/notification_events/sendgrid/<received>-<sha>.json``
  as ``….tmp`` (a name ingestion's ``*.json*`` never matches), fsynced and renamed, and only then
  answered 200: ingestion sees a whole file or none, and a failed write is a 500 that SendGrid
  retries. A redelivered body gets the same name and hash, which ingestion skips.

Replays of a captured request need no time window here: a replayed batch lands the same events,
which ingestion deduplicates (event key: notification, status, provider, event time).
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from exports.nudges.feedback import sendgrid_body, sendgrid_landing
from learnrec.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/sendgrid/events"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
#: Larger bodies are refused (413) before they are read: SendGrid's batches are far smaller.
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Verdict:
    status: HTTPStatus
    message: str
    landed: Path | None = None


class SendGridWebhook:
    """Verify one webhook delivery and land it; independent of the HTTP server for testing."""

    def __init__(self, public_key: str, landing: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from sendgrid.helpers.eventwebhook import EventWebhook

        try:
            self._verifier = EventWebhook(public_key)
        except ValueError as exc:
            raise ValueError(f"LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key: {exc}") from None
        if not isinstance(self._verifier.public_key, ec.EllipticCurvePublicKey):
            raise ValueError("LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY is not an ECDSA public key")
        self.folder = sendgrid_landing(landing)

    def receive(self, body: bytes, signature: str | None, timestamp: str | None) -> Verdict:
        if not signature or not timestamp:
            return Verdict(HTTPStatus.UNAUTHORIZED, "missing signature headers")
        try:
            text = body.decode("utf-8")
            verified = self._verifier.verify_signature(text, signature, timestamp)
        except (UnicodeDecodeError, binascii.Error, ValueError):  # undecodable body or signature
            verified = False
        if not verified:
            return Verdict(HTTPStatus.FORBIDDEN, "signature does not verify")
        try:
            events = sendgrid_body(body)
        except ValueError as exc:
            return Verdict(HTTPStatus.BAD_REQUEST, f"not a SendGrid event batch: {exc}")
        return Verdict(HTTPStatus.OK, f"{len(events)} events accepted", self._land(body))

    def _land(self, body: bytes) -> Path:
        """Write ``body`` under its final name atomically (tmp file, fsync, rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        received = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{received}-{hashlib.sha256(body).hexdigest()[:16]}"
        staged, final = self.folder / f"{name}.tmp", self.folder / f"{name}.json"
        try:
            with open(staged, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(staged, final)
        finally:
            staged.unlink(missing_ok=True)
        return final


def _handler(webhook: SendGridWebhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "learnrec-webhook"

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s %s", self.client_address[0], format % args)

        def _answer(self, verdict: Verdict) -> None:
            if verdict.status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
                log.warning("SendGrid webhook rejected from %s: %s", self.client_address[0], verdict.message)
            elif verdict.status != HTTPStatus.OK:
                log.warning("SendGrid webhook refused from %s: %s", self.client_address[0], verdict.message)
            data = (verdict.message + "\n").encode()
            self.send_response(verdict.status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != WEBHOOK_PATH:
                return self._answer(Verdict(HTTPStatus.NOT_FOUND, f"POST events to {WEBHOOK_PATH}"))
            try:
                length = int(self.headers["Content-Length"])
            except (TypeError, ValueError):
                return self._answer(Verdict(HTTPStatus.LENGTH_REQUIRED, "Content-Length required"))
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                return self._answer(Verdict(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large"))
            body = self.rfile.read(length)
            try:
                verdict = webhook.receive(
                    body, self.headers.get(SIGNATURE_HEADER), self.headers.get(TIMESTAMP_HEADER)
                )
            except OSError:
                log.exception("SendGrid webhook: could not land a verified batch")
                verdict = Verdict(HTTPStatus.INTERNAL_SERVER_ERROR, "could not store the events; retry")
            if verdict.landed:
                log.info("SendGrid webhook: %s -> %s", verdict.message, verdict.landed.name)
            self._answer(verdict)

    return Handler


def make_server(settings: Settings, host: str = "127.0.0.1", port: int = 8025) -> ThreadingHTTPServer:
    """The receiver bound to ``host:port`` (port 0: any free port); call ``serve_forever()``."""
    if not settings.sendgrid_webhook_public_key:
        raise ValueError(
            "LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY must be set: unsigned events are never accepted"
        )
    webhook = SendGridWebhook(
        settings.sendgrid_webhook_public_key, settings.landing_path / "notification_events"
    )
    server = ThreadingHTTPServer((host, port), _handler(webhook))
    server.daemon_threads = True
    return server
