"""Delivery rules: consent and channel, frequency caps, quiet hours. Pure functions, no I/O.

The rules (all settings, see .env.example):

- **Who.** A learner missing from raw.learners or past their retention expiry gets nothing.
- **Consent and channel.** A channel is usable when the learner opted in to it, has an address
  for it (e-mail address / push token) and has not unsubscribed from it (raw.nudge_unsubscribes,
  fed by the app, SendGrid unsubscribe/spam events, hard bounces and dead push tokens). The first
  usable channel of ``nudge_channel_order`` wins (default e-mail, then push: e-mail reaches a
  learner who no longer opens the app, which is whom re-engagement is for). One nudge goes out on
  one channel only. No usable channel: the nudge is *suppressed* with the reason per channel.
- **Frequency caps.** At most ``nudge_max_per_day`` (1) nudges per learner per nudge date and
  ``nudge_max_per_week`` (3) in any 7 consecutive nudge dates (a backfilled date sees later ones).
  What counts is every nudge not suppressed and not failed: planned, deferred, in flight, sent or
  unconfirmed. When a learner has several drafts for a day, the most urgent type wins
  (:data:`TYPE_PRIORITY`); the others are suppressed with the cap as reason. At send time a
  learner also gets at most ``nudge_max_per_day`` per 24 hours (more are deferred), so nudges of
  several dates that an outage held back never arrive together.
- **Quiet hours.** Nothing is sent between ``nudge_quiet_hours_start`` (21:00) and
  ``nudge_quiet_hours_end`` (08:00) in the learner's own time zone; such a nudge is *deferred* to
  the end of the quiet hours (next local 08:00, DST-correct), never dropped. An unknown time zone
  is treated as UTC (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from learnrec.contracts.nudges import NudgeType
from learnrec.notify.base import Channel

log = logging.getLogger(__name__)

#: Lower is more urgent: which draft survives the daily cap.
TYPE_PRIORITY: dict[str, int] = {
    NudgeType.DROPOUT_RISK: 0,
    NudgeType.INACTIVITY: 1,
    NudgeType.NEW_RECOMMENDATIONS: 2,
}


@dataclass(frozen=True)
class Recipient:
    """What delivery needs to know about a learner (from raw.learners and the unsubscribe list)."""

    learner_id: str
    email: str | None
    push_token: str | None
    email_opt_in: bool
    push_opt_in: bool
    timezone: str
    unsubscribed: frozenset[str] = frozenset()  # channels, or "all"
    retention_expiry: datetime | None = None

    def address(self, channel: Channel) -> str | None:
        return self.email if channel == "email" else self.push_token


def learner_blocker(recipient: Recipient | None, now: datetime) -> str | None:
    """Why no nudge may go to this learner at all: unknown, or past retention (their data is due
    for erasure, so no message built from it may go out)."""
    if recipient is None:
        return "unknown_learner"
    if recipient.retention_expiry is not None and recipient.retention_expiry <= now:
        return "retention_expired"
    return None


def channel_blocker(recipient: Recipient, channel: Channel) -> str | None:
    """Why ``channel`` cannot be used for this learner, or None if it can."""
    if "all" in recipient.unsubscribed or channel in recipient.unsubscribed:
        return "unsubscribed"
    if not (recipient.email_opt_in if channel == "email" else recipient.push_opt_in):
        return "not_opted_in"
    if not recipient.address(channel):
        return "no_email" if channel == "email" else "no_push_token"
    return None


def choose_channel(recipient: Recipient, order: Sequence[Channel]) -> tuple[Channel | None, str | None]:
    """The first usable channel in preference order, or (None, reason naming every channel's blocker)."""
    blockers = []
    for channel in order:
        blocker = channel_blocker(recipient, channel)
        if blocker is None:
            return channel, None
        blockers.append(f"{channel}={blocker}")
    return None, "no_channel: " + ", ".join(blockers)


@dataclass
class CapCounter:
    """Nudges a learner already has (not suppressed, not failed) on the date and in its fullest week."""

    today: int = 0
    week: int = 0

    def blocker(self, max_per_day: int, max_per_week: int) -> str | None:
        if self.today >= max_per_day:
            return f"frequency_cap: {max_per_day} per day reached"
        if self.week >= max_per_week:
            return f"frequency_cap: {max_per_week} per 7 days reached"
        return None

    def add(self) -> None:
        self.today += 1
        self.week += 1


def learner_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: quiet hours evaluated in UTC", name)
        return ZoneInfo("UTC")


def quiet_until(now: datetime, timezone: str | None, start_hour: int, end_hour: int) -> datetime | None:
    """If ``now`` falls in the learner's quiet hours, when they end (UTC); else None.

    The window may wrap midnight (21 -> 8) or not (1 -> 6); start == end means no quiet hours.
    """
    if start_hour == end_hour:
        return None
    zone = learner_zone(timezone)
    local = now.astimezone(zone)
    hour = local.hour
    wraps = start_hour > end_hour
    quiet = (hour >= start_hour or hour < end_hour) if wraps else (start_hour <= hour < end_hour)
    if not quiet:
        return None
    end_day = local.date() + timedelta(days=1) if wraps and hour >= start_hour else local.date()
    # wall-clock 08:00 on that day; zoneinfo resolves DST gaps/folds to a real instant
    end_local = datetime.combine(end_day, time(end_hour), tzinfo=zone)
    return end_local.astimezone(UTC)
