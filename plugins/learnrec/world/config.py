"""Size and behaviour knobs of the synthetic world, with named presets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date


@dataclass(frozen=True)
class WorldConfig:
    """Everything the generator's output depends on: same config, same bytes.

    Events are simulated for ``days`` days ending on ``end_date`` (inclusive) and land as files;
    the ``horizon_days`` after it are simulated too but kept only as evaluation ground truth
    (each learner's true future interests and dropouts).
    """

    end_date: date
    n_learners: int = 2_000
    n_courses: int = 300
    days: int = 30
    seed: int = 7
    horizon_days: int = 14
    #: multiplies every learner's session rate: the volume knob at fixed population
    activity: float = 1.0
    onboarding_skip_share: float = 0.15
    opted_in_share: float = 0.45
    #: share of learners who sign up during the simulated window (the rest before it)
    new_learner_share: float = 0.25
    #: share of event lines replaced by malformed or invalid input
    bad_share: float = 0.01
    #: share of events delivered twice (at-least-once delivery)
    duplicate_share: float = 0.02
    #: share of events arriving 1-3 days after their event date
    late_share: float = 0.02
    #: lines per landing file before it is split into parts
    max_lines_per_file: int = 500_000
    extra: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = {
            "n_learners": self.n_learners >= 10,
            "n_courses": self.n_courses >= 20,
            "days": 1 <= self.days <= 366,
            "horizon_days": 0 <= self.horizon_days <= 90,
            "activity": self.activity > 0,
        }
        for name in (
            "onboarding_skip_share",
            "opted_in_share",
            "new_learner_share",
            "bad_share",
            "duplicate_share",
            "late_share",
        ):
            checks[name] = 0.0 <= getattr(self, name) < 1.0
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid world config: {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)}")


#: name -> (learners, courses, days, activity). Roughly: events ~ learners x days x 1.3 x activity.
PRESETS: dict[str, tuple[int, int, int, float]] = {
    "tiny": (60, 120, 10, 1.0),  # a few hundred events: unit tests
    "small": (2_000, 300, 30, 1.0),  # the demo: ~80k events
    "medium": (50_000, 2_000, 30, 1.0),  # ~2M events
    "large": (1_000_000, 10_000, 30, 1.0),  # ~40M events: benchmarks
}


def preset(name: str, end_date: date, **overrides: object) -> WorldConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown world size {name!r}; choose one of {sorted(PRESETS)}")
    learners, courses, days, activity = PRESETS[name]
    base = WorldConfig(
        end_date=end_date, n_learners=learners, n_courses=courses, days=days, activity=activity
    )
    return replace(base, **overrides)  # type: ignore[arg-type]
