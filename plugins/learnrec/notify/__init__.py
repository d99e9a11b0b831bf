"""Notification adapters: one small send interface, a file sink (embedded default), SendGrid
(email) and Firebase Cloud Messaging (push).

The adapters only transport one message and classify what happened (sent, transient, permanent,
ambiguous). Deciding *whether* to send (consent, caps, quiet hours) and remembering *that* it was
sent (the outbox) is exports/nudges' job, so every provider stays swappable.
"""

from learnrec.notify.base import (
    AmbiguousDeliveryError,
    DeliveryError,
    Notification,
    NotificationProvider,
    PermanentDeliveryError,
    ProviderAuthError,
    TransientDeliveryError,
    build_providers,
)

__all__ = [
    "AmbiguousDeliveryError",
    "DeliveryError",
    "Notification",
    "NotificationProvider",
    "PermanentDeliveryError",
    "ProviderAuthError",
    "TransientDeliveryError",
    "build_providers",
]
