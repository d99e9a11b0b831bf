"""SendGrid's Signed Event Webhook receiver: real HTTP requests on loopback, signed as SendGrid signs
(ECDSA P-256 over timestamp + body) with a key pair generated here; accepted batches land as files
that the existing feedback step ingests."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from exports.nudges.pipeline import ingest_events
from exports.nudges.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_PATH, make_server
from learnrec.settings import Settings
from learnrec.warehouse import connect_warehouse
from tests.nudges.test_feedback import webhook_batch

pytestmark = pytest.mark.integration  # a real HTTP server on loopback


@dataclass
class Signer:
    key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> str:
        """As SendGrid's Mail Settings show it: base64 DER, no PEM armour."""
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: str = "1773151500") -> dict[str, str]:
        signature = self.key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: timestamp,
            "Content-Type": "application/json",
        }


def new_signer() -> Signer:
    return Signer(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def signer() -> Signer:
    return new_signer()


@pytest.fixture
def receiver(settings: Settings, signer: Signer) -> Iterator[tuple[str, Settings]]:
    """The receiver on a free loopback port; yields (URL, settings)."""
    settings = settings.model_copy(update={"sendgrid_webhook_public_key": signer.public_key})
    server = make_server(settings, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}", settings
    server.shutdown()
    server.server_close()


def landed(settings: Settings) -> list[Path]:
    """Everything in the SendGrid landing folder, temporary files included."""
    folder = settings.landing_path / "notification_events" / "sendgrid"
    return sorted(folder.iterdir()) if folder.exists() else []


def batch() -> bytes:
    return json.dumps(webhook_batch(), separators=(",", ":")).encode()


def test_signed_batch_lands_and_is_ingested_by_the_feedback_step(receiver, signer) -> None:
    url, settings = receiver
    body = batch()
    response = requests.post(url, data=body, headers=signer.headers(body), timeout=10)
    assert response.status_code == 200, response.text
    assert "8 events accepted" in response.text
    files = landed(settings)
    assert [f.suffix for f in files] == [".json"] and files[0].read_bytes() == body  # verbatim, no .tmp
    report = ingest_events(settings)
    assert (report["files"], report["events"], report["quarantined"], report["unsubscribes"]) == (1, 5, 0, 2)
    with connect_warehouse(settings) as wh:
        statuses = wh.query(
            "SELECT learner_id, status FROM raw.notification_events ORDER BY learner_id, status"
        ).to_pylist()
        blocked = wh.query(
            "SELECT learner_id, reason FROM raw.nudge_unsubscribes ORDER BY learner_id"
        ).to_pylist()
    assert [(r["learner_id"], r["status"]) for r in statuses] == [
        ("L1", "clicked"),
        ("L1", "delivered"),
        ("L1", "opened"),
        ("L2", "bounced"),
        ("L3", "bounced"),  # blocked: a soft bounce, the address stays usable
    ]
    assert [(r["learner_id"], r["reason"]) for r in blocked] == [("L2", "hard_bounce"), ("L4", "unsubscribe")]
    # SendGrid redelivers the same batch (it got no 2xx in time): landed again, ingested as nothing new
    assert requests.post(url, data=body, headers=signer.headers(body), timeout=10).status_code == 200
    again = ingest_events(settings)
    assert (again["files"], again["events"], again["duplicates"]) == (1, 0, 5)
    with connect_warehouse(settings) as wh:
        assert wh.scalar("SELECT count(*) FROM raw.notification_events") == 5


@pytest.mark.parametrize(
    "forgery",
    ["other key", "tampered body", "other timestamp", "garbage signature", "missing signature"],
)
def test_bad_signatures_are_rejected_and_nothing_lands(receiver, signer, forgery, caplog) -> None:
    url, settings = receiver
    body = batch()
    headers = signer.headers(body)
    if forgery == "other key":
        headers = new_signer().headers(body)
    elif forgery == "tampered body":
        body = body.replace(b'"L2"', b'"L9"')
    elif forgery == "other timestamp":
        headers[TIMESTAMP_HEADER] = "1773151501"
    elif forgery == "garbage signature":
        headers[SIGNATURE_HEADER] = "not base64!"
    else:
        del headers[SIGNATURE_HEADER]
    with caplog.at_level(logging.WARNING, logger="exports.nudges.webhook"):
        response = requests.post(url, data=body, headers=headers, timeout=10)
    assert response.status_code == (401 if forgery == "missing signature" else 403)
    assert landed(settings) == []
    assert any("SendGrid webhook rejected from 127.0.0.1" in m for m in caplog.messages), caplog.messages


@pytest.mark.parametrize("body", [b"not json", b'{"event": "open"}', b"[{", b""])
def test_signed_but_malformed_bodies_are_400_and_nothing_lands(receiver, signer, body) -> None:
    url, settings = receiver
    response = requests.post(url, data=body, headers=signer.headers(body), timeout=10)
    assert response.status_code == 400, response.text
    assert landed(settings) == []


def test_a_failed_write_is_500_and_leaves_no_partial_file(receiver, signer, monkeypatch) -> None:
    url, settings = receiver

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    body = batch()
    response = requests.post(url, data=body, headers=signer.headers(body), timeout=10)
    assert response.status_code == 500  # SendGrid retries later
    assert landed(settings) == []


def test_wrong_path_and_missing_key(receiver, signer, settings) -> None:
    url, _ = receiver
    body = batch()
    assert (
        requests.post(
            url.replace(WEBHOOK_PATH, "/"), data=body, headers=signer.headers(body), timeout=10
        ).status_code
        == 404
    )
    with pytest.raises(ValueError, match="LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY"):
        make_server(settings, "127.0.0.1", 0)  # no key configured: never accept unsigned events
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for key, error in (
        (base64.b64encode(rsa_der).decode(), "not an ECDSA"),
        ("bm90IGEga2V5", "not a public key"),
    ):
        with pytest.raises(ValueError, match=error):
            make_server(settings.model_copy(update={"sendgrid_webhook_public_key": key}), "127.0.0.1", 0)


#: The installed console script (``python -m learnrec.cli`` would load a second copy of the CLI module).
WEBHOOK_COMMAND = [str(Path(sys.executable).parent / "learnrec"), "nudges", "webhook", "--port", "0"]


@pytest.mark.slow
def test_cli_serves_until_stopped(settings: Settings, signer: Signer, tmp_path: Path) -> None:
    """``learnrec nudges webhook --port 0`` in its own process, as deployed."""
    env = {**os.environ, "LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key}
    proc = subprocess.Popen(
        WEBHOOK_COMMAND,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("receiving SendGrid events on http://127.0.0.1:"), line + proc.stderr.read()
        body = batch()
        url = line.split(" on ", 1)[1].strip()
        assert requests.post(url, data=body, headers=signer.headers(body), timeout=10).status_code == 200
        assert [f.suffix for f in landed(settings)] == [".json"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    env.pop("LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY")
    refused = subprocess.run(
        WEBHOOK_COMMAND,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "LEARNREC_SENDGRID_WEBHOOK_PUBLIC_KEY" in refused.stderr
