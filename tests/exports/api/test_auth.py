"""OAuth 2.0 bearer JWTs against the loopback issuer: what is accepted, what is refused and how."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from .conftest import Issuer, Running, Store, api_settings, serve

RECS = "/learners/{}/recommendations"


def test_a_learner_reads_their_own_recommendations_with_rsa_and_ec_tokens(
    api: Running, issuer: Issuer, store: Store
):
    learner = store.learners[0]
    for kid in ("rsa1", "ec1"):
        response = api.get(RECS.format(learner), issuer.token(learner, "recs:read", kid=kid))
        assert response.status_code == 200, response.text
        assert [r["log_id"] for r in response.json()["items"]] == [
            r["log_id"] for r in store.by_learner[learner][:10]
        ]


def test_a_service_token_reads_any_learner_and_admin_grants_everything(
    api: Running, issuer: Issuer, store: Store
):
    for learner in store.learners[:2]:
        assert api.get(RECS.format(learner), issuer.service_token("recs:read")).status_code == 200
        assert (
            api.get(RECS.format(learner), issuer.token("ops", "admin", client_id="console")).status_code
            == 200
        )


def _tamper(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["scope"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def _hs256_with_public_key(issuer: Issuer, learner: str) -> str:
    from cryptography.hazmat.primitives import serialization

    pem = (
        issuer.keys["rsa1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "kid": "rsa1", "typ": "JWT"}
    body = json.loads(base64.urlsafe_b64decode(issuer.token(learner, "recs:read").split(".")[1] + "=="))

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    return f"{signing}.{b64(hmac.new(pem, signing.encode(), hashlib.sha256).digest())}"


def _unsigned(issuer: Issuer, learner: str) -> str:
    body = json.loads(base64.urlsafe_b64decode(issuer.token(learner, "recs:read").split(".")[1] + "=="))
    return jwt.encode(body, None, algorithm="none")


@pytest.mark.parametrize(
    "case",
    ["missing", "garbage", "expired", "not_yet_valid", "foreign_key", "wrong_issuer", "wrong_audience",
     "tampered", "alg_none", "hs256_public_key", "no_client_id"],
)  # fmt: skip
def test_bad_tokens_are_401_and_logged_without_the_token(
    api: Running, issuer: Issuer, store: Store, case: str, caplog: pytest.LogCaptureFixture
):
    learner = store.learners[0]
    tokens = {
        "missing": None,
        "garbage": "not-a-jwt",
        "expired": issuer.token(learner, "recs:read", lifetime=timedelta(minutes=-5)),
        "not_yet_valid": issuer.token(learner, "recs:read", nbf=issuer_time(minutes=10)),
        "foreign_key": issuer.token(learner, "recs:read", kid="foreign"),
        "wrong_issuer": issuer.token(learner, "recs:read", iss="https://evil.test/"),
        "wrong_audience": issuer.token(learner, "recs:read", aud="another-api"),
        "tampered": _tamper(issuer.token(learner, "recs:read")),
        "alg_none": _unsigned(issuer, learner),
        "hs256_public_key": _hs256_with_public_key(issuer, learner),
        "no_client_id": jwt.encode(
            {k: v for k, v in jwt.decode(issuer.token(learner, "recs:read"), options={"verify_signature": False}).items() if k != "client_id"},
            issuer.keys["rsa1"], algorithm="RS256", headers={"kid": "rsa1"},
        ),
    }  # fmt: skip
    token = tokens[case]
    with caplog.at_level(logging.WARNING, logger="exports.api.auth"):
        response = api.get(RECS.format(learner), token)
    assert response.status_code == 401, (case, response.text)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    refusals = [r.getMessage() for r in caplog.records if r.name == "exports.api.auth"]
    assert refusals and all("refused (401" in m for m in refusals)
    secrets = [part for part in (token, (token or "").rpartition(".")[2]) if part]
    assert not any(secret in m for secret in secrets for m in refusals)


def issuer_time(**delta: int) -> int:
    return int((datetime.now(UTC) + timedelta(**delta)).timestamp())


def test_wrong_learner_and_missing_scope_are_403(api: Running, issuer: Issuer, store: Store, caplog):
    me, other = store.learners[:2]
    with caplog.at_level(logging.WARNING, logger="exports.api.auth"):
        wrong = api.get(RECS.format(other), issuer.token(me, "recs:read"))
        scope = api.get(RECS.format(me), issuer.token(me, "events:write feedback:write"))
        service_without_scope = api.get(RECS.format(me), issuer.service_token("events:write"))
    assert (wrong.status_code, scope.status_code, service_without_scope.status_code) == (403, 403, 403)
    assert 'error="insufficient_scope"' in wrong.headers["WWW-Authenticate"]
    assert any(
        f"recs:read on learner {other}" in r.getMessage() and f"sub={me}" in r.getMessage()
        for r in caplog.records
    )


def test_jwks_is_cached_and_a_rotated_key_is_fetched_once(api: Running, issuer: Issuer, store: Store):
    learner = store.learners[0]
    assert api.get(RECS.format(learner), issuer.token(learner, "recs:read")).status_code == 200
    before = issuer.fetches
    for _ in range(3):
        assert api.get(RECS.format(learner), issuer.token(learner, "recs:read")).status_code == 200
    assert issuer.fetches == before  # cached
    issuer.published.append("rsa2")  # the issuer rotates: a new kid appears
    try:
        for _ in range(2):
            assert (
                api.get(RECS.format(learner), issuer.token(learner, "recs:read", kid="rsa2")).status_code
                == 200
            )
        assert issuer.fetches == before + 1  # the unknown kid refetched the set once
    finally:
        issuer.published.remove("rsa2")


def test_a_remembered_token_still_expires(world, store: Store, issuer: Issuer):
    learner = store.learners[0]
    with serve(world.settings, api_settings(issuer, jwt_leeway_seconds=0)) as api:
        # minted once the server is up, with room for two reads on a loaded machine
        lifetime = timedelta(seconds=5)
        expires = time.time() + lifetime.total_seconds()
        token = issuer.token(learner, "recs:read", lifetime=lifetime)
        assert api.get(RECS.format(learner), token).status_code == 200
        assert api.get(RECS.format(learner), token).status_code == 200  # remembered
        time.sleep(max(0.0, expires - time.time()) + 1.2)
        assert api.get(RECS.format(learner), token).status_code == 401
