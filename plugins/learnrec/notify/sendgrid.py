"""E-mail through SendGrid's v3 Mail Send API with the official ``sendgrid`` client.

- The notification id, learner id, nudge type and course go in ``custom_args``: SendGrid echoes
  them on every event-webhook event, which is how opens, clicks and bounces find their nudge.
- SendGrid answers 202 with ``X-Message-Id``; that id is recorded as provider_message_id.
- 429 (honouring Retry-After), 5xx and refused connections are retried with backoff: SendGrid
  did not accept the message. 401/403 (a revoked or unauthorised key) is a provider-level
  :class:`ProviderAuthError` that stops the run. Other 4xx are permanent. A timeout, a lost connection or a garbled
  answer is *ambiguous* (the request may have been accepted) and is never retried: at most once.
SendGrid's Mail Send API has no idempotency key, so exactly-once cannot be had from the provider;
the outbox's claim-before-send gives at-most-once instead (exports/nudges/outbox.py).
"""

from __future__ import annotations

import http.client
import logging
import socket
import urllib.error
from collections.abc import Callable

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Asm, Category, CustomArg, GroupId, Mail

from learnrec.notify.base import (
    AmbiguousDeliveryError,
    Notification,
    PermanentDeliveryError,
    ProviderAuthError,
    TransientDeliveryError,
    with_retries,
)
from learnrec.settings import Settings

# The HTTP client logs every request's headers (``Authorization: Bearer <API key>``) and payload
# (address, message) at DEBUG: ``learnrec -v`` or a DEBUG task log would leak the key.
logging.getLogger("python_http_client").setLevel(logging.INFO)

#: 4xx answers that mean "this address is unusable", not "this request was malformed".
_ADDRESS_ERRORS = ("does not contain a valid address", "invalid email")


class SendGridEmailProvider:
    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        from_email: str,
        *,
        host: str = "https://api.sendgrid.com",
        timeout_seconds: float = 10.0,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        unsubscribe_group_id: int | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.from_email = from_email
        self.unsubscribe_group_id = unsubscribe_group_id
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> SendGridEmailProvider:
        assert settings.sendgrid_api_key is not None  # enforced by Settings' validator
        return cls(
            settings.sendgrid_api_key.get_secret_value(),
            settings.sendgrid_from_email,
            host=settings.sendgrid_host,
            timeout_seconds=settings.notify_timeout_seconds,
            max_attempts=settings.notify_max_attempts,
            backoff_seconds=settings.notify_backoff_seconds,
            unsubscribe_group_id=settings.sendgrid_unsubscribe_group_id,
        )

    def build_mail(self, notification: Notification) -> Mail:
        mail = Mail(
            from_email=self.from_email,
            to_emails=notification.address,
            subject=notification.subject,
            plain_text_content=notification.body,
        )
        for key, value in notification.tracking_args().items():
            mail.custom_arg = CustomArg(key, value)
        mail.category = Category(f"nudge-{notification.nudge_type}")
        if self.unsubscribe_group_id:  # SendGrid adds the link and reports group_unsubscribe events
            mail.asm = Asm(GroupId(self.unsubscribe_group_id))
        return mail

    def lookup(self, notification: Notification) -> str | None:
        """SendGrid offers no query by custom_args on the send path: reconciliation happens when its
        event webhook reports the notification id (exports/nudges/feedback.py)."""
        return None

    def send(self, notification: Notification) -> str:
        try:
            body = self.build_mail(notification).get()
        except (KeyError, ValueError) as exc:  # the helper cannot parse the address
            raise PermanentDeliveryError(f"unusable e-mail address: {exc!r}", address_invalid=True) from exc
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        return with_retries(
            lambda: self._post(body),
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            **kwargs,
        )

    def _post(self, body: dict) -> str:
        try:
            response = self.client.client.mail.send.post(request_body=body, timeout=self.timeout_seconds)
        except http_errors.HTTPError as exc:
            raise _classify_http_error(exc) from exc
        except TimeoutError as exc:
            raise AmbiguousDeliveryError(f"SendGrid timed out after {self.timeout_seconds}s") from exc
        except urllib.error.URLError as exc:
            # refused / unresolvable: nothing reached SendGrid; anything else may have
            if isinstance(exc.reason, (ConnectionRefusedError, socket.gaierror)):
                raise TransientDeliveryError(f"SendGrid unreachable: {exc.reason}") from exc
            raise AmbiguousDeliveryError(f"SendGrid call interrupted: {exc.reason}") from exc
        except ConnectionError as exc:  # reset mid-request: it may have been accepted
            raise AmbiguousDeliveryError(f"SendGrid connection lost: {exc}") from exc
        except http.client.HTTPException as exc:  # a garbled or cut answer: the request went out
            raise AmbiguousDeliveryError(f"SendGrid answer unreadable: {exc!r}") from exc
        message_id = response.headers.get("X-Message-Id")
        if response.status_code != 202 or not message_id:
            raise AmbiguousDeliveryError(
                f"SendGrid answered {response.status_code} without X-Message-Id; not retried"
            )
        return str(message_id)


def _classify_http_error(exc: http_errors.HTTPError) -> Exception:
    status = int(exc.status_code)
    detail = exc.body.decode("utf-8", "replace")[:300] if isinstance(exc.body, bytes) else str(exc.body)
    if status == 429:
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        return TransientDeliveryError(f"SendGrid 429 rate limited: {detail}", retry_after=seconds)
    if status >= 500:
        return TransientDeliveryError(f"SendGrid {status}: {detail}")
    if status in (401, 403):
        return ProviderAuthError(f"SendGrid {status}, the API key is refused: {detail}")
    address_invalid = any(marker in detail.lower() for marker in _ADDRESS_ERRORS)
    return PermanentDeliveryError(f"SendGrid {status}: {detail}", address_invalid=address_invalid)
