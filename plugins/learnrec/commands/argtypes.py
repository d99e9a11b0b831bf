"""Argument types shared by the subcommands (argparse ``type=`` callables with clear errors)."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def iso_instant(text: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
