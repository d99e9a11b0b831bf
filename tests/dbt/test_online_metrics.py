"""mart_online_metrics and mart_online_lift over a hand-built Recommendation Log on the tiny world.

On one serving day D (four days before the data ends), with outcomes the world's own events decide:
  treatment, model route:      3 clicked only, 1 enrolled only (a watch, no click), 4 ignored
  treatment, default tier:     6 ignored: course X to three learners, courses Y, Z, W to one each
                               (one reported by the app)
  treatment, cold start:       1 ignored
  control, no-results route:   1 clicked only, 3 ignored (the clicked one also has an app outcome
                               row, whose is_control is null as the apps send it)
and on D + 1 treatment only, so its lift is null.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from learnrec.transform.dbt_runner import run_dbt
from learnrec.warehouse import connect_warehouse
from tests.dbt.conftest import END, make_tiny_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UTC_US = pa.timestamp("us", tz="UTC")
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
MODEL = ("blend:v1", ["collaborative", "content", "learning_style"])
DEFAULT_TIER = ("content:v1", ["content", "declared_format", "completed_levels"])
COLD_START = ("fallback:popular_by_career", ["popularity", "career_goal"])
NO_RESULTS = ("fallback:top_rated_by_interest+content:v1", ["content", "ratings"])
Z95 = 1.959964


def hand_built_log(events: list[dict], learners: list[str], courses: list[str]) -> tuple[pa.Table, datetime]:
    by_pair: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    for e in events:
        by_pair[(e["learner_id"], e["course_id"])].append((e["event_type"], e["event_at"]))

    def none_of(pair, kind: str, start: datetime, hours: int) -> bool:
        return not any(k == kind and start <= at < start + timedelta(hours=hours) for k, at in by_pair[pair])

    day = datetime.combine(END - 4 * DAY, datetime.min.time(), UTC)  # its click windows have closed
    on_day = lambda served: day <= served < day + DAY  # noqa: E731
    clicked_only = [
        (p, at - HOUR)
        for p, evs in sorted(by_pair.items())
        for k, at in evs
        if k == "click"
        and on_day(at - HOUR)
        and none_of(p, "watch", at - HOUR, 168)
        and none_of(p, "complete", at - HOUR, 720)
    ]
    enrolled_only = [
        (p, at - HOUR)
        for p, evs in sorted(by_pair.items())
        for k, at in evs
        if k == "watch"
        and on_day(at - HOUR)
        and none_of(p, "click", at - HOUR, 24)
        and none_of(p, "complete", at - HOUR, 720)
    ]
    clicked_only = list(dict(clicked_only).items())  # one row per pair
    assert len(clicked_only) >= 4 and enrolled_only, "the tiny world should have such events on D"
    used = {p for p, _ in clicked_only[:4]} | {enrolled_only[0][0]}
    untouched = [(lr, c) for lr in learners for c in courses if (lr, c) not in by_pair and lr]
    x, others = courses[0], courses[1:4]
    to_x = [(lr, x) for lr in learners if (lr, x) not in by_pair][:3]
    to_others = [next((lr, c) for lr in learners if (lr, c) not in by_pair) for c in others]
    quiet = [p for p in untouched if p[1] not in courses[:4] and p not in used][:9]
    noon = day + 12 * HOUR
    rows = []

    def serve(tag, pair, served, version, is_control, reported=None):
        rows.append(
            {
                "log_id": f"{tag}-{len(rows)}",
                "learner_id": pair[0],
                "course_id": pair[1],
                "model_version": version[0],
                "signals_used": version[1],
                "rank_at_serve": 1,
                "served_at": served,
                "outcome": reported,
                "outcome_recorded_at": served + HOUR if reported else None,
                "received_at": served + 2 * HOUR,
                "is_control": is_control,
            }
        )

    for pair, served in clicked_only[:3]:
        serve("t-click", pair, served, MODEL, False)
    serve("t-enrol", *enrolled_only[0], MODEL, False)
    for pair in quiet[:4]:
        serve("t-ignored", pair, noon, MODEL, False)
    for pair in to_x + to_others:
        serve("t-default", pair, noon, DEFAULT_TIER, False)
    rows[-1]["outcome"], rows[-1]["outcome_recorded_at"] = "ignored", noon + HOUR
    serve("t-cold", quiet[4], noon, COLD_START, False)
    serve("c-click", *clicked_only[3], NO_RESULTS, True)
    rows.append(
        rows[-1]
        | {
            "outcome": "CLICKED",
            "outcome_recorded_at": rows[-1]["served_at"] + HOUR,
            "received_at": rows[-1]["served_at"] + 3 * HOUR,
            "is_control": None,
        }
    )
    for pair in quiet[5:8]:
        serve("c-ignored", pair, noon, NO_RESULTS, True)
    serve("t-next-day", quiet[8], noon + DAY, MODEL, False)
    return pa.Table.from_pylist(rows), day


def test_online_metrics_and_lift_of_a_hand_built_log(learnrec_home) -> None:
    world = make_tiny_world(learnrec_home)
    with connect_warehouse(world.settings) as warehouse:
        learners = warehouse.query("select learner_id from raw.learners order by 1").column(0).to_pylist()
        courses = warehouse.query("select course_id from raw.courses order by 1").column(0).to_pylist()
        log, day = hand_built_log(world.events.to_pylist(), learners, courses)
        warehouse.load_arrow("raw.learner_events", world.events, mode="replace")
        warehouse.load_arrow("raw.served_recommendations", log, mode="replace")
    run_dbt(world.settings, "build", "--select", "+mart_online_lift", "--indirect-selection", "cautious")

    with connect_warehouse(world.settings) as warehouse:
        n_catalogue = warehouse.scalar("select count(*) from marts.dim_courses")
        metrics = {
            (r["route"], r["is_control"]): r
            for r in warehouse.query(
                "select * from marts.mart_online_metrics where served_date = ?", [day.date()]
            ).to_pylist()
        }
        lift = {
            r["served_date"]: r for r in warehouse.query("select * from marts.mart_online_lift").to_pylist()
        }
    assert set(metrics) == {
        ("model", False),
        ("default_tier", False),
        ("cold_start", False),
        ("no_results", True),
    }
    model, default, control = (
        metrics[("model", False)],
        metrics[("default_tier", False)],
        metrics[("no_results", True)],
    )
    assert (model["n_served"], model["n_clicked"], model["n_enrolled"], model["n_with_outcome"]) == (
        8,
        3,
        1,
        8,
    )
    assert model["click_through_rate"] == pytest.approx(3 / 8)
    assert model["enrollment_rate"] == pytest.approx(1 / 8)
    assert model["coverage"] == pytest.approx(8 / n_catalogue)
    assert (control["n_served"], control["n_clicked"], control["n_impressions"]) == (4, 1, 1)
    assert (default["n_served"], default["n_impressions"], default["n_courses_served"]) == (6, 1, 4)
    assert 100 < n_catalogue <= 200  # so the top 1% is two courses: X (3 of 6) and one other
    assert default["top_1pct_course_share"] == pytest.approx(4 / 6)
    assert default["coverage"] == pytest.approx(4 / n_catalogue)

    # treatment: 15 served (3 clicked, 1 enrolled); control: 4 (1 clicked, 0 enrolled)
    today = lift[day.date()]
    assert (today["n_treatment"], today["n_control"]) == (15, 4)
    ctr_t, ctr_c = 3 / 15, 1 / 4
    ctr_half = Z95 * math.sqrt(ctr_t * (1 - ctr_t) / 15 + ctr_c * (1 - ctr_c) / 4)
    assert today["click_through_lift"] == pytest.approx(ctr_t - ctr_c)
    assert today["click_through_lift_lower"] == pytest.approx(ctr_t - ctr_c - ctr_half)
    assert today["click_through_lift_upper"] == pytest.approx(ctr_t - ctr_c + ctr_half)
    enrol_half = Z95 * math.sqrt((1 / 15) * (14 / 15) / 15)
    assert today["enrollment_lift"] == pytest.approx(1 / 15)
    assert (today["enrollment_lift_lower"], today["enrollment_lift_upper"]) == pytest.approx(
        (1 / 15 - enrol_half, 1 / 15 + enrol_half)
    )
    next_day = lift[(day + DAY).date()]
    assert next_day["n_control"] == 0 and next_day["click_through_control"] is None
    assert next_day["click_through_lift"] is None and next_day["click_through_lift_lower"] is None
    assert next_day["click_through_treatment"] == 0
