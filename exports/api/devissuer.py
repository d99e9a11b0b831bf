"""A local OAuth 2.0 issuer for the demo, the benchmark and the tests: signing keys held in memory
and their JWKS served on loopback. Never for production (there, tokens come from the identity
provider named by ``LEARNREC_API_ISSUER``)."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

DEV_ISSUER = "https://id.learnrec.local/"
DEV_AUDIENCE = "learnrec-api"


def new_key(kid: str) -> object:
    """An ES256 key for kids starting with ``ec``, else RS256."""
    if kid.startswith("ec"):
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def algorithm(kid: str) -> str:
    return "ES256" if kid.startswith("ec") else "RS256"


@dataclass
class DevIssuer:
    """Keys by kid; ``published`` are those the JWKS serves (append one to rotate)."""

    keys: dict[str, object] = field(default_factory=lambda: {"rsa1": new_key("rsa1")})
    published: list[str] = field(default_factory=lambda: ["rsa1"])
    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    url: str = ""
    fetches: int = 0
    _server: ThreadingHTTPServer | None = None

    def jwks(self) -> dict:
        keys = []
        for kid in self.published:
            public = jwt.algorithms.get_default_algorithms()[algorithm(kid)].to_jwk(
                self.keys[kid].public_key()
            )
            keys.append({**json.loads(public), "kid": kid, "use": "sig", "alg": algorithm(kid)})
        return {"keys": keys}

    def start(self) -> DevIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def env(self) -> dict[str, str]:
        """The API's settings that trust this issuer."""
        return {
            "LEARNREC_API_JWKS_URL": self.url,
            "LEARNREC_API_ISSUER": self.issuer,
            "LEARNREC_API_AUDIENCE": self.audience,
        }

    def token(
        self,
        sub: str,
        scope: str,
        *,
        client_id: str = "learner-app",
        kid: str = "rsa1",
        lifetime: timedelta = timedelta(minutes=15),
        **claims: object,
    ) -> str:
        now = datetime.now(UTC)
        body = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(body, self.keys[kid], algorithm=algorithm(kid), headers={"kid": kid})

    def service_token(self, scope: str, service: str = "recs-web", **kwargs: object) -> str:
        """A client-credentials token: ``sub`` is the client id."""
        return self.token(service, scope, client_id=service, **kwargs)
