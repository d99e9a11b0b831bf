"""The provider interface and the error classes delivery decisions hang on.

Why three failure kinds: the outbox promises *at most once* per nudge, so after a failed call it
must know whether the provider may have accepted the message:

- :class:`TransientDeliveryError`: certainly not accepted (429, 5xx, connection refused, token
  refresh failed): safe to try again later;
- :class:`PermanentDeliveryError`: rejected for good (400, unknown or unregistered address):
  retrying cannot help;
- :class:`AmbiguousDeliveryError`: the request may have reached the provider (timeout after the
  request was written): never resent, left for reconciliation by the provider's delivery events.

And one provider-level failure, :class:`ProviderAuthError` (401/403: a revoked or unauthorised
key): nothing was accepted and every other send would fail alike, so it stops the delivery run
instead of failing each nudge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol, TypeVar

from learnrec.settings import Settings

Channel = Literal["email", "push"]
CHANNELS: tuple[Channel, ...] = ("email", "push")


@dataclass(frozen=True)
class Notification:
    """One message to one address. ``notification_id`` is the outbox's idempotency key and travels
    with the message (SendGrid custom_args, FCM data) so delivery events can be joined back."""

    notification_id: str
    learner_id: str
    nudge_type: str
    nudge_date: date
    channel: Channel
    address: str  # e-mail address or FCM registration token
    subject: str
    body: str
    course_id: str | None = None
    tracking: dict[str, str] = field(default_factory=dict)

    def tracking_args(self) -> dict[str, str]:
        """Non-personal identifiers carried by the message and echoed by the provider's events."""
        args = {
            "notification_id": self.notification_id,
            "learner_id": self.learner_id,
            "nudge_type": self.nudge_type,
        }
        if self.course_id:
            args["course_id"] = self.course_id
        return args | self.tracking


class DeliveryError(Exception):
    """A send did not (certainly) succeed."""


class TransientDeliveryError(DeliveryError):
    """Not accepted by the provider; a later try may succeed (``retry_after``: seconds it asked for)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Rejected for good. ``address_invalid``: the address itself is dead (suppress the channel)."""

    def __init__(self, message: str, *, address_invalid: bool = False) -> None:
        super().__init__(message)
        self.address_invalid = address_invalid


class AmbiguousDeliveryError(DeliveryError):
    """The provider may have accepted it: never resend (at-most-once)."""


class ProviderAuthError(DeliveryError):
    """The provider refused our credentials: not this message's fault, the run must stop."""


class NotificationProvider(Protocol):
    name: str  # file | sendgrid | firebase (raw.notification_events.provider)

    def send(self, notification: Notification) -> str:
        """Send once (with the provider's own safe retries); return the provider's message id."""
        ...

    def lookup(self, notification: Notification) -> str | None:
        """The message id if the provider can tell this notification was already accepted, else None.

        Used after a crash between send and record; providers without such a query return None.
        """
        ...


T = TypeVar("T")


def with_retries(
    attempt: Callable[[], T],
    *,
    max_attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``attempt`` until it succeeds or raises anything but a transient error.

    Backoff doubles per try; a :class:`TransientDeliveryError` carrying ``retry_after`` (from a
    429's Retry-After) waits that long instead (capped at 60 s so one learner cannot stall a run).
    """
    for number in range(1, max_attempts + 1):
        try:
            return attempt()
        except TransientDeliveryError as exc:
            if number == max_attempts:
                raise
            wait = exc.retry_after
            sleep(min(60.0, wait) if wait is not None else backoff_seconds * 2 ** (number - 1))
    raise AssertionError("unreachable")


def build_providers(settings: Settings) -> dict[Channel, NotificationProvider]:
    """The provider per channel that the settings select (LEARNREC_EMAIL_PROVIDER / _PUSH_PROVIDER)."""
    from learnrec.notify.file_sink import FileSink

    providers: dict[Channel, NotificationProvider] = {}
    if settings.email_provider == "sendgrid":
        from learnrec.notify.sendgrid import SendGridEmailProvider

        providers["email"] = SendGridEmailProvider.from_settings(settings)
    else:
        providers["email"] = FileSink(settings.outbox_path)
    if settings.push_provider == "firebase":
        from learnrec.notify.firebase import FirebasePushProvider

        providers["push"] = FirebasePushProvider.from_settings(settings)
    else:
        providers["push"] = FileSink(settings.outbox_path)
    return providers
