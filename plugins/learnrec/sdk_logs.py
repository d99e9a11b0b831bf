"""Third-party SDK loggers held at INFO, whatever level the root logger runs at.

At DEBUG these SDKs log whole requests: prompts with first names and Q&A questions (anthropic,
openai and their HTTP stacks), push and e-mail payloads with addresses and API keys (firebase_admin,
google, urllib3, SendGrid's python_http_client). ``learnrec -v`` or a DEBUG task log must not
copy personal data that the audit log is careful to mask.
"""

from __future__ import annotations

import logging

#: Logger names (parents of each SDK's module loggers); httpx2/httpcore2 are the forks some SDKs vendor.
SDK_LOGGERS = (
    "anthropic",
    "openai",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "urllib3",
    "firebase_admin",
    "google",
    "python_http_client",
)


def hold_sdk_loggers() -> None:
    """Cap the SDKs' loggers at INFO (a level set higher elsewhere is kept)."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, logging.INFO))
