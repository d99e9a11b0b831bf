"""OAuth 2.0 bearer tokens: JWT access tokens (RFC 9068) checked against the issuer's JWKS.

* signature: RS256 or ES256 only, with a key of the issuer's JWKS chosen by the token's ``kid``
  (``jwt.PyJWKClient``: the set is cached for ``jwks_cache_seconds``; an unknown ``kid``, i.e. a
  rotated key, refetches it at most every ``jwks_refetch_cooldown_seconds``). ``alg=none`` and
  HS256 (an HMAC "signed" with the public key) are refused before any key is looked up;
* claims: ``iss`` and ``aud`` must match, ``exp`` and ``nbf`` hold (with a small leeway);
  ``sub``, ``client_id`` and ``exp`` are required;
* who: a token whose ``sub`` is its ``client_id`` was issued to a service (client credentials,
  RFC 9068 section 2.2); any other ``sub`` is a learner id, and that token reaches only that
  learner's data. Scopes come from the space-separated ``scope`` claim; ``admin`` grants all.

A missing or bad token is 401, a valid one lacking the scope or the learner is 403; each refusal
is one warning log line naming the reason and the claims, never the token itself.

A verified token is remembered (by its sha256) until it expires, for at most
``VERIFIED_TTL_SECONDS``: apps send the same token with every call, and verifying an RS256
signature per request was a third of a read's cost. No longer than the JWKS itself is cached, so a
key withdrawn by the issuer stops working as soon as it would without this.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

import jwt
from fastapi import HTTPException, Request

from exports.api.settings import ApiSettings

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")
VERIFIED_TTL_SECONDS = 60.0
VERIFIED_MAX = 100_000


class Scope(StrEnum):
    EVENTS_WRITE = "events:write"
    RECS_READ = "recs:read"
    FEEDBACK_WRITE = "feedback:write"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    subject: str
    client_id: str
    scopes: frozenset[str]

    @property
    def is_service(self) -> bool:
        return self.subject == self.client_id

    def allows(self, scope: Scope, learner_id: str | None = None) -> bool:
        if Scope.ADMIN in self.scopes:
            return True
        if scope not in self.scopes:
            return False
        return learner_id is None or self.is_service or learner_id == self.subject


def _refuse(status: int, reason: str, detail: str, claims: str = "") -> HTTPException:
    log.warning("refused (%d %s) %s", status, reason, claims or "no valid token")
    error = "insufficient_scope" if status == 403 else "invalid_token"
    return HTTPException(status, detail, headers={"WWW-Authenticate": f'Bearer error="{error}"'})


class Authenticator:
    """Verifies bearer tokens of one issuer; shared by every request (the JWKS cache is)."""

    def __init__(self, settings: ApiSettings) -> None:
        if not (settings.jwks_url and settings.issuer):
            raise ValueError("the API needs LEARNREC_API_JWKS_URL and LEARNREC_API_ISSUER to verify tokens")
        self.settings = settings
        self.jwks = jwt.PyJWKClient(
            settings.jwks_url,
            cache_jwk_set=True,
            lifespan=settings.jwks_cache_seconds,
            cooldown_duration=settings.jwks_refetch_cooldown_seconds,
            timeout=5,
        )
        self.verified: dict[bytes, tuple[float, Principal]] = {}
        self.lock = threading.Lock()

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token verified before and still valid, else None."""
        digest = hashlib.sha256(token.encode()).digest()
        entry = self.verified.get(digest)
        if entry is None:
            return None
        if entry[0] <= time.time():
            with self.lock:
                self.verified.pop(digest, None)
            return None
        return entry[1]

    def _remember(self, token: str, principal: Principal, expires: float) -> None:
        with self.lock:
            if len(self.verified) >= VERIFIED_MAX:
                now = time.time()
                self.verified = {k: v for k, v in self.verified.items() if v[0] > now}
                if len(self.verified) >= VERIFIED_MAX:
                    self.verified.clear()
            until = min(expires + self.settings.jwt_leeway_seconds, time.time() + VERIFIED_TTL_SECONDS)
            self.verified[hashlib.sha256(token.encode()).digest()] = (until, principal)

    def verify(self, token: str) -> Principal:
        """The token's principal (remembered or checked now), else 401 (503: keys unreachable)."""
        return self.remembered(token) or self._check(token)

    def _check(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _refuse(401, "malformed", "malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise _refuse(
                401, f"alg {header.get('alg')!r}", f"only {', '.join(ALGORITHMS)} tokens are accepted"
            )
        try:
            key = self.jwks.get_signing_key(str(header.get("kid")))
        except jwt.PyJWKClientConnectionError:
            log.warning("refused (503): the issuer's JWKS cannot be fetched")
            raise HTTPException(503, "token keys unavailable", headers={"Retry-After": "5"}) from None
        except jwt.PyJWKClientError:
            raise _refuse(
                401, f"unknown kid {header.get('kid')!r}", "token signed by an unknown key"
            ) from None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub", "client_id"]},
            )
        except jwt.InvalidTokenError as exc:
            raise _refuse(401, type(exc).__name__, f"invalid token: {exc}") from None
        principal = Principal(
            subject=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
        )
        self._remember(token, principal, float(claims["exp"]))
        return principal

    def authenticate(self, request: Request) -> Principal:
        """The principal of the request's bearer token, else 401."""
        return self.verify(_bearer(request))

    async def authorize_async(
        self, request: Request, scope: Scope, learner_id: str | None = None
    ) -> Principal:
        """:meth:`authorize` for the event loop: a remembered token inline, else checked in a
        thread (a JWKS fetch must not block the loop)."""
        token = _bearer(request)
        principal = self.remembered(token) or await asyncio.to_thread(self._check, token)
        permit(principal, scope, learner_id)
        return principal

    def authorize(self, request: Request, scope: Scope, learner_id: str | None = None) -> Principal:
        """The request's principal if it may use ``scope`` (on ``learner_id``), else 401/403."""
        principal = self.authenticate(request)
        permit(principal, scope, learner_id)
        return principal


def _bearer(request: Request) -> str:
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise _refuse(401, "no bearer token", "a bearer token is required")
    return token.strip()


def permit(principal: Principal, scope: Scope, learner_id: str | None = None) -> None:
    """403 unless ``principal`` may use ``scope`` (on ``learner_id``)."""
    if not principal.allows(scope, learner_id):
        who = f"sub={principal.subject} client_id={principal.client_id} scopes={sorted(principal.scopes)}"
        what = f"{scope} on learner {learner_id}" if learner_id else str(scope)
        raise _refuse(403, f"needs {what}", f"the token does not grant {what}", who)
