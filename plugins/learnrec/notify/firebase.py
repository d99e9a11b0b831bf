"""Push through Firebase Cloud Messaging (HTTP v1) with the official ``firebase-admin`` SDK.

- Each provider owns a named firebase_admin App (no global default app), so settings or tests
  can hold several side by side.
- The notification id and other non-personal ids go in the message's ``data``; FCM returns a
  message id (``projects/<p>/messages/<id>``) recorded as provider_message_id, which FCM's
  delivery data (BigQuery export) and the app's open reports carry back.
- FCM has no idempotency key either: at-most-once comes from the outbox's claim-before-send.
- Error classes: 429 / quota, 500, 503, failures to connect and OAuth token refresh failures are
  transient (not accepted); a deadline exceeded, or a connection lost after the request went out,
  is ambiguous; UNREGISTERED / invalid token is permanent and marks the token dead; other 4xx are
  permanent.
- The SDK's own urllib3 policy resends a POST once after a read timeout or a dropped connection
  (FCM may already have accepted it: a duplicate push), so FCM sends get :data:`SEND_RETRY`.

``transport_adapter``: a ``requests`` adapter mounted for Google's endpoints (FCM and OAuth token)
on the SDK's sessions. Production leaves it unset; it exists for egress proxies and for tests,
which forward the real SDK's HTTPS traffic to a loopback server (STACK.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import firebase_admin
import google.auth.exceptions
import requests.adapters
import urllib3.exceptions
import urllib3.util
from firebase_admin import credentials, exceptions, messaging

from learnrec.notify.base import (
    AmbiguousDeliveryError,
    Notification,
    PermanentDeliveryError,
    TransientDeliveryError,
    with_retries,
)
from learnrec.sdk_logs import hold_sdk_loggers
from learnrec.settings import Settings

# at DEBUG google-auth and urllib3 log request payloads (tokens, device tokens, message text)
hold_sdk_loggers()

#: URL prefixes the SDK talks to when sending: FCM itself and the OAuth token endpoint.
GOOGLE_PREFIXES = ("https://fcm.googleapis.com", "https://oauth2.googleapis.com")
_app_numbers = itertools.count()
_TRANSIENT = (
    exceptions.ResourceExhaustedError,
    exceptions.UnavailableError,
    exceptions.InternalError,
    exceptions.UnknownError,
)
#: The SDK's default retries minus reads: only a failed connect (nothing sent) or a 500/503 answer
#: (not accepted) is tried again; after a read timeout or reset the original error surfaces.
SEND_RETRY = urllib3.util.Retry(
    connect=1,
    read=False,
    other=0,
    status=4,
    status_forcelist=[500, 503],
    raise_on_status=False,
    backoff_factor=0.5,
    allowed_methods=None,
)


class FirebasePushProvider:
    name = "firebase"

    def __init__(
        self,
        project_id: str,
        credentials_file: Path | None = None,
        *,
        timeout_seconds: float = 10.0,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        transport_adapter: requests.adapters.BaseAdapter | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        credential = (
            credentials.Certificate(str(credentials_file))
            if credentials_file
            else credentials.ApplicationDefault()
        )
        self.app = firebase_admin.initialize_app(
            credential,
            options={"projectId": project_id, "httpTimeout": timeout_seconds},
            name=f"learnrec-push-{next(_app_numbers)}",
        )
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        session = messaging._get_messaging_service(self.app)._client.session
        session.mount(GOOGLE_PREFIXES[0], requests.adapters.HTTPAdapter(max_retries=SEND_RETRY))
        if transport_adapter is not None:
            self._mount(transport_adapter)

    @classmethod
    def from_settings(cls, settings: Settings) -> FirebasePushProvider:
        assert settings.firebase_project_id is not None  # enforced by Settings' validator
        return cls(
            settings.firebase_project_id,
            settings.firebase_credentials_file,
            timeout_seconds=settings.notify_timeout_seconds,
            max_attempts=settings.notify_max_attempts,
            backoff_seconds=settings.notify_backoff_seconds,
        )

    def _mount(self, adapter: requests.adapters.BaseAdapter) -> None:
        # The SDK exposes no transport option; its service object holds the authorized session
        # (FCM calls) whose credential refreshes tokens through a second session.
        service = messaging._get_messaging_service(self.app)
        session = service._client.session
        sessions = [session, getattr(session, "_auth_request_session", None)]
        for target in filter(None, sessions):
            for prefix in GOOGLE_PREFIXES:
                target.mount(prefix, adapter)

    def close(self) -> None:
        firebase_admin.delete_app(self.app)

    def build_message(self, notification: Notification) -> messaging.Message:
        return messaging.Message(
            token=notification.address,
            notification=messaging.Notification(title=notification.subject, body=notification.body[:180]),
            data=notification.tracking_args(),
            fcm_options=messaging.FCMOptions(analytics_label=f"nudge-{notification.nudge_type}"[:50]),
        )

    def lookup(self, notification: Notification) -> str | None:
        """FCM cannot be asked about a past send; reconciliation waits for its delivery data."""
        return None

    def send(self, notification: Notification) -> str:
        message = self.build_message(notification)
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        return with_retries(
            lambda: self._send(message),
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            **kwargs,
        )

    def _send(self, message: messaging.Message) -> str:
        try:
            return messaging.send(message, app=self.app)
        except (messaging.UnregisteredError, messaging.SenderIdMismatchError) as exc:
            raise PermanentDeliveryError(f"FCM token unusable: {exc}", address_invalid=True) from exc
        except exceptions.DeadlineExceededError as exc:
            raise AmbiguousDeliveryError(f"FCM timed out: {exc}") from exc
        except _TRANSIENT as exc:
            if not _not_sent(exc):
                raise AmbiguousDeliveryError(
                    f"FCM {type(exc).__name__}, may have been accepted: {exc}"
                ) from exc
            raise TransientDeliveryError(f"FCM {type(exc).__name__}: {exc}") from exc
        except exceptions.InvalidArgumentError as exc:
            invalid_token = "registration token" in str(exc).lower()
            raise PermanentDeliveryError(f"FCM rejected: {exc}", address_invalid=invalid_token) from exc
        except exceptions.FirebaseError as exc:
            raise PermanentDeliveryError(f"FCM {type(exc).__name__}: {exc}") from exc
        except google.auth.exceptions.GoogleAuthError as exc:  # token refresh: nothing was sent
            raise TransientDeliveryError(f"FCM credentials: {exc}") from exc


def _not_sent(exc: exceptions.FirebaseError) -> bool:
    """True if FCM certainly did not accept the message: it answered (429, 5xx), or the connection
    was never made. Without an answer after connecting, the request may have gone through."""
    if exc.http_response is not None:
        return True
    reason = exc.cause.args[0] if isinstance(exc.cause, requests.ConnectionError) and exc.cause.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the last error
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
