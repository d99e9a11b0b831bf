"""Delivery rules as pure functions: channel by consent and availability, quiet hours by time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exports.nudges.rules import CapCounter, Recipient, choose_channel, quiet_until


def recipient(**overrides: object) -> Recipient:
    values: dict[str, object] = {
        "learner_id": "L1",
        "email": "a@example.com",
        "push_token": "tok",
        "email_opt_in": True,
        "push_opt_in": True,
        "timezone": "UTC",
    }
    values.update(overrides)
    return Recipient(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "order", "expected"),
    [
        ({}, ("email", "push"), ("email", None)),
        ({}, ("push", "email"), ("push", None)),
        ({"email_opt_in": False}, ("email", "push"), ("push", None)),
        ({"email": None}, ("email", "push"), ("push", None)),
        ({"unsubscribed": frozenset({"email"})}, ("email", "push"), ("push", None)),
        (
            {"push_token": None, "email_opt_in": False},
            ("email", "push"),
            (None, "no_channel: email=not_opted_in, push=no_push_token"),
        ),
        (
            {"unsubscribed": frozenset({"all"})},
            ("email", "push"),
            (None, "no_channel: email=unsubscribed, push=unsubscribed"),
        ),
        ({"push_opt_in": False}, ("push",), (None, "no_channel: push=not_opted_in")),
    ],
)
def test_channel_by_consent_availability_and_preference(overrides, order, expected) -> None:
    assert choose_channel(recipient(**overrides), order) == expected


@pytest.mark.parametrize(
    ("now_utc", "zone", "expected_end_utc"),
    [
        # 22:30 in Berlin (CET, UTC+1) -> quiet until 08:00 Berlin next day = 07:00 UTC
        (datetime(2026, 3, 10, 21, 30, tzinfo=UTC), "Europe/Berlin", datetime(2026, 3, 11, 7, 0, tzinfo=UTC)),
        # 02:00 in Berlin: after midnight, quiet until 08:00 the same local day
        (datetime(2026, 3, 10, 1, 0, tzinfo=UTC), "Europe/Berlin", datetime(2026, 3, 10, 7, 0, tzinfo=UTC)),
        # same instant is 17:30 in New York: not quiet
        (datetime(2026, 3, 10, 21, 30, tzinfo=UTC), "America/New_York", None),
        # 23:00 in Tokyo (UTC+9) -> 08:00 Tokyo = 23:00 UTC
        (datetime(2026, 3, 10, 14, 0, tzinfo=UTC), "Asia/Tokyo", datetime(2026, 3, 10, 23, 0, tzinfo=UTC)),
        # 07:59 local is quiet, 08:00 is not
        (datetime(2026, 3, 10, 6, 59, tzinfo=UTC), "Europe/Berlin", datetime(2026, 3, 10, 7, 0, tzinfo=UTC)),
        (datetime(2026, 3, 10, 7, 0, tzinfo=UTC), "Europe/Berlin", None),
        # Kolkata (UTC+5:30): 21:00 local = 15:30 UTC, ends 08:00 local = 02:30 UTC
        (datetime(2026, 3, 10, 15, 30, tzinfo=UTC), "Asia/Kolkata", datetime(2026, 3, 11, 2, 30, tzinfo=UTC)),
        # the night of the US spring-forward (2026-03-08): 08:00 EDT = 12:00 UTC, not 13:00
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), "America/New_York", datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # unknown zone: evaluated in UTC
        (datetime(2026, 3, 10, 22, 0, tzinfo=UTC), "Mars/Olympus", datetime(2026, 3, 11, 8, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_in_the_learners_time_zone(now_utc, zone, expected_end_utc) -> None:
    assert quiet_until(now_utc, zone, 21, 8) == expected_end_utc


def test_quiet_window_that_does_not_wrap_midnight_and_disabled_window() -> None:
    at = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert quiet_until(at, "UTC", 1, 6) == datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert quiet_until(at, "UTC", 4, 6) is None
    assert quiet_until(at, "UTC", 8, 8) is None


def test_caps_per_day_before_per_week() -> None:
    assert CapCounter(0, 2).blocker(1, 3) is None
    assert CapCounter(1, 1).blocker(1, 3) == "frequency_cap: 1 per day reached"
    assert CapCounter(0, 3).blocker(1, 3) == "frequency_cap: 3 per 7 days reached"
