"""Re-engagement Agent: selection by dropout score or the 5-day rule, grounded drafts, privacy."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from learnrec.contracts.events import raw_event_schema
from learnrec.contracts.nudges import NudgeType
from learnrec.llm import LLMGateway
from learnrec.settings import Settings
from ml.agents.reengagement import draft_nudges, load_nudge_drafts, select_targets

from .conftest import WORLD_END, LLMServer, Reply, llm_settings

RUN = WORLD_END


def _events(rows: list[tuple[str, str, str, date]]) -> pa.Table:
    schema = raw_event_schema()
    out = []
    for i, (learner, course, kind, day) in enumerate(rows):
        at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        out.append(
            {
                "event_id": f"e{i}",
                "learner_id": learner,
                "event_type": kind,
                "course_id": course,
                "event_at": at,
                "event_date": day,
                "source": "test",
                "source_uri": "test",
                "source_offset": i,
                "batch_id": "b1",
                "ingested_at": at,
            }
        )
    return pa.Table.from_pylist(out, schema=schema)


@pytest.fixture
def scene(warehouse):
    """Six learners in known situations on the run date (the world's learners, events replaced)."""
    learners = warehouse.query(
        "select learner_id, data_tier from raw.learners where signed_up_at < timestamp '2026-11-01' "
        "order by learner_id"
    ).to_pylist()
    opted = [r["learner_id"] for r in learners if r["data_tier"] == "opted_in"]
    default = [r["learner_id"] for r in learners if r["data_tier"] == "default"]
    active, inactive, risky, safe_but_idle = opted[:4]
    default_idle = default[0]
    day = lambda n: RUN - timedelta(days=n)  # noqa: E731
    special = {inactive, safe_but_idle, default_idle, active, risky}
    # everyone else was active on the run date: they must not be selected
    everyone = warehouse.query("select learner_id from raw.learners").column(0).to_pylist()
    warehouse.load_arrow(
        "raw.learner_events",
        _events(
            [
                (active, "C00001", "watch", day(1)),
                (inactive, "C00002", "complete", day(9)),
                (inactive, "C00003", "watch", day(6)),
                (risky, "C00004", "watch", day(0)),
                (safe_but_idle, "C00005", "watch", day(12)),
                (default_idle, "C00006", "watch", day(7)),
                *((lid, "C00010", "click", RUN) for lid in everyone if lid not in special),
            ]
        ),
        mode="replace",
    )
    warehouse.load_arrow(
        "features.dropout_scores",
        pa.table(
            {
                "learner_id": [risky, safe_but_idle, risky],
                "score_date": [RUN, RUN, RUN - timedelta(days=3)],
                "dropout_probability": [0.81, 0.2, 0.1],
                "model_version": ["dropout:v1"] * 3,
            }
        ),
    )
    warehouse.execute(
        "create table recs.current_learner_recommendations as select * from (values "
        f"('{inactive}', 'C00007', 1), ('{inactive}', 'C00008', 2), ('{default_idle}', 'C00009', 1), "
        f"('{risky}', 'C00008', 1)) t(learner_id, course_id, rank)"
    )
    titles = {
        r["course_id"]: r["title"]
        for r in warehouse.query("select course_id, title from raw.courses").to_pylist()
    }
    return {
        "inactive": inactive,
        "risky": risky,
        "default_idle": default_idle,
        "safe_but_idle": safe_but_idle,
        "active": active,
        "titles": titles,
    }


def test_selection_uses_the_score_where_it_exists_and_the_5_day_rule_elsewhere(
    settings: Settings, warehouse, scene
) -> None:
    targets = {t.learner_id: t for t in select_targets(settings, warehouse, RUN)}
    assert set(targets) == {scene["inactive"], scene["risky"], scene["default_idle"]}
    assert targets[scene["risky"]].nudge_type is NudgeType.DROPOUT_RISK  # latest score 0.81 >= 0.6
    assert targets[scene["inactive"]].nudge_type is NudgeType.INACTIVITY  # 6 days, no score
    # scored at 0.2: the model decides, the time rule does not apply even after 12 idle days
    assert scene["safe_but_idle"] not in targets
    inactive = targets[scene["inactive"]]
    assert inactive.days_inactive == 6
    assert inactive.in_progress == ("C00003", scene["titles"]["C00003"]) and inactive.n_completed == 1
    assert [c for c, _ in inactive.recommended] == ["C00007", "C00008"]


def test_rules_drafts_without_llm_are_grounded_and_stored(settings: Settings, warehouse, scene) -> None:
    drafts = {d.learner_id: d for d in draft_nudges(settings, warehouse, RUN)}
    inactive = drafts[scene["inactive"]]
    assert inactive.provenance == "rules" and inactive.model == "rules:reengagement-rules@v1"
    assert inactive.course_ids == ("C00003", "C00007", "C00008")
    assert scene["titles"]["C00003"] in inactive.subject
    # default tier: recommendations only, nothing about their activity
    default = drafts[scene["default_idle"]]
    assert scene["titles"]["C00006"] not in default.body + default.subject
    assert default.course_ids == ("C00009",)
    # stored and reloaded as the same contract objects; a rerun replaces the day's drafts
    assert {d.idempotency_key for d in load_nudge_drafts(warehouse, RUN)} == {
        d.idempotency_key for d in drafts.values()
    }
    draft_nudges(settings, warehouse, RUN)
    assert warehouse.scalar("select count(*) from recs.nudge_drafts") == len(drafts)


def test_a_long_first_name_does_not_stop_the_days_drafts(settings: Settings, warehouse, scene) -> None:
    """The template's subject exceeded the contract's 120 characters for a long name: the
    validation error aborted every learner's draft of the day."""
    name = "Maria Fernanda de los Angeles Guadalupe Concepcion Rodriguez-Hernandez de la Trinidad"
    for lid in (scene["default_idle"], scene["inactive"]):
        warehouse.execute("update raw.learners set first_name = ? where learner_id = ?", [name * 2, lid])
    drafts = {d.learner_id: d for d in draft_nudges(settings, warehouse, RUN)}
    assert set(drafts) == {scene["inactive"], scene["risky"], scene["default_idle"]}
    assert drafts[scene["default_idle"]].subject.startswith(name)


@pytest.mark.integration
def test_llm_personalises_opted_in_learners_only_with_first_name_and_course_titles(
    llm_server: LLMServer, tmp_path: Path, warehouse, scene
) -> None:
    def respond(body: dict) -> Reply:
        user = body["messages"][-1]["content"]
        ids = [
            line.split(" | ")[0] for line in user.split("Recommended next (id | title):\n")[1].splitlines()
        ]
        ids = [i for i in ids if i != "none"]
        return Reply(
            json.dumps(
                {"subject": "Your next step", "body": "Hi there, one module today?", "course_ids": ids[:1]}
            )
        )

    llm_server.respond = respond
    settings = llm_settings(tmp_path, llm_server)
    learners = {
        r["learner_id"]: r
        for r in warehouse.query(
            "select learner_id, first_name, email, timezone from raw.learners"
        ).to_pylist()
    }
    drafts = {
        d.learner_id: d
        for d in draft_nudges(settings, warehouse, RUN, gateway=LLMGateway.from_settings(settings))
    }
    assert drafts[scene["inactive"]].provenance == "llm"
    assert drafts[scene["inactive"]].course_ids == ("C00007",)
    assert drafts[scene["risky"]].provenance == "llm"
    assert drafts[scene["default_idle"]].provenance == "rules"  # default tier: no LLM at all
    assert len(llm_server.requests) == 2
    sent = "\n".join(llm_server.prompts())
    for learner_id in (scene["inactive"], scene["risky"]):
        person = learners[learner_id]
        assert person["first_name"] in sent
        assert learner_id not in sent and person["email"] not in sent and person["timezone"] not in sent
    default_person = learners[scene["default_idle"]]
    assert default_person["email"] not in sent and scene["default_idle"] not in sent
    # the audit log holds neither names nor ids
    audit = (tmp_path / "llm" / "audit.jsonl").read_text()
    assert learners[scene["inactive"]]["first_name"] not in audit and scene["inactive"] not in audit


@pytest.mark.integration
@pytest.mark.parametrize(
    "answer",
    [
        {"subject": "Hi", "body": "See https://example.test now", "course_ids": ["C00007"]},
        {"subject": "Hi", "body": "Try this one", "course_ids": ["C00099"]},
        {"subject": "Hi {first_name}", "body": "Try it", "course_ids": ["C00007"]},
        {"subject": "", "body": "Try it", "course_ids": ["C00007"]},
    ],
)
def test_invalid_llm_nudges_are_replaced_by_the_template(
    answer: dict, llm_server: LLMServer, tmp_path: Path, warehouse, scene
) -> None:
    llm_server.respond = lambda body: Reply(json.dumps(answer))
    settings = llm_settings(tmp_path, llm_server)
    drafts = {d.learner_id: d for d in draft_nudges(settings, warehouse, RUN)}
    assert drafts[scene["inactive"]].provenance == "rules"
    assert "https://" not in drafts[scene["inactive"]].body


@pytest.mark.integration
def test_llm_unavailable_everyone_gets_the_template(
    llm_server: LLMServer, tmp_path: Path, warehouse, scene
) -> None:
    llm_server.respond = lambda body: Reply(status=500)
    settings = llm_settings(tmp_path, llm_server, llm_breaker_failures=1, llm_max_retries=0)
    drafts = draft_nudges(settings, warehouse, RUN)
    assert drafts and {d.provenance for d in drafts} == {"rules"}
    assert len(llm_server.requests) == 1  # breaker opened after the first failed call
    run = warehouse.query("select * from ops.agent_runs where agent = 'reengagement'").to_pylist()[0]
    assert json.loads(run["fallbacks"]) == {"breaker_open": 1, "unavailable": 1}


def test_hostile_profile_and_catalogue_text_never_reaches_a_nudge(
    settings: Settings, warehouse, scene
) -> None:
    """Markup, a CR/LF header injection, a phishing link and placeholders in a first name and a
    course title reached sent e-mails verbatim through the rule-based template."""
    hostile = (
        "<script>x</script>Eve\r\nBcc: victim@example.com https://evil.example.com ${reason} {first_name}"
    )
    warehouse.execute("update raw.learners set first_name = ?", [hostile])
    warehouse.execute("update raw.courses set title = title || ?", [" www.phish.example.com <b>"])
    drafts = draft_nudges(settings, warehouse, RUN)
    assert drafts
    for draft in drafts:
        for text in (draft.subject, draft.body):
            assert not any(
                bad in text for bad in ("\r", "\n", "<", ">", "@", "http", "www", "$", "{", "}")
            ), text
