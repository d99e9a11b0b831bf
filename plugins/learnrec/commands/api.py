"""``learnrec api serve``: the HTTP service apps talk to (collector, feedback, REST, GraphQL)."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "api",
        help="serve the HTTP API (events, feedback, recommendations; REST and GraphQL)",
        description="Serves POST /events/learner[:batch], POST /feedback, the recommendation reads and "
        "/graphql with OAuth 2.0 bearer tokens of LEARNREC_API_ISSUER (keys from LEARNREC_API_JWKS_URL). "
        "Settings: LEARNREC_API_* (see .env.example); OpenAPI docs at /docs.",
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    serve = steps.add_parser("serve", help="run uvicorn until stopped")
    serve.add_argument("--host", help="address to bind (default LEARNREC_API_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default LEARNREC_API_PORT, 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default LEARNREC_API_WORKERS, 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exports.api.server import serve
    from exports.api.settings import load_api_settings
    from learnrec.cli import UsageError

    given = {
        k: v
        for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers))
        if v is not None
    }
    try:
        serve(load_api_settings(**given))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0
