"""``ops.alerts``: one row per condition and day, whoever raises it.

A condition is what went wrong, named stably (``drift:engagement_score:psi``, ``gate:<run_id>``,
``load_champion_scorer``): a retried task, a rerun or a second night of the same problem on the
same day raises it once, also when no run id is involved (a null never equals a null, so keying
on ``run_id`` let those through). The message is for people: the figure and the threshold.
Delivery (``learnrec.alert_delivery``) records per channel when it took the alert, so a rerun
never sends it twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from learnrec.warehouse import Warehouse

ALERTS = "ops.alerts"

_COLUMNS = (
    ("alert_id", "VARCHAR"),
    ("raised_at", "TIMESTAMPTZ"),
    ("severity", "VARCHAR"),
    ("source", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("message", "VARCHAR"),
    ("alert_date", "DATE"),
    ("condition", "VARCHAR"),
    ("figure", "DOUBLE"),
    ("threshold", "DOUBLE"),
)
# written by learnrec.alert_delivery, null until a channel took the alert
DELIVERY_COLUMNS = (
    ("datadog_sent_at", "TIMESTAMPTZ"),
    ("slack_sent_at", "TIMESTAMPTZ"),
    ("delivery_attempts", "INTEGER"),
    ("delivery_error", "VARCHAR"),
)


@dataclass(frozen=True)
class Alert:
    source: str
    condition: str
    alert_date: date
    message: str
    severity: str = "error"
    run_id: str | None = None
    figure: float | None = None
    threshold: float | None = None


def ensure_alerts_table(warehouse: Warehouse) -> None:
    """Create ``ops.alerts``; a table of an older shape gets the new columns."""
    columns = _COLUMNS + DELIVERY_COLUMNS
    warehouse.execute(f"CREATE TABLE IF NOT EXISTS {ALERTS} ({', '.join(f'{n} {t}' for n, t in columns)})")
    for name, sql_type in columns[6:]:
        warehouse.execute(f"ALTER TABLE {ALERTS} ADD COLUMN IF NOT EXISTS {name} {sql_type}")


def raise_alert(warehouse: Warehouse, alert: Alert, *, now: datetime) -> bool:
    """Insert ``alert`` unless its (source, condition, day) is already there; True if new."""
    key = [alert.source, alert.condition, alert.alert_date]
    exists = "SELECT 1 FROM " + ALERTS + " WHERE source = ? AND condition = ? AND alert_date = ?"
    if warehouse.scalar(exists, key) is not None:
        return False
    warehouse.execute(
        f"INSERT INTO {ALERTS} ({', '.join(n for n, _ in _COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
        [
            uuid.uuid4().hex,
            now,
            alert.severity,
            alert.source,
            alert.run_id,
            alert.message,
            alert.alert_date,
            alert.condition,
            alert.figure,
            alert.threshold,
        ],
    )
    return True
