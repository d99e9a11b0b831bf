"""`learnrec nudges`: the same steps as the DAG, from the command line."""

from __future__ import annotations

import json

import pytest

from learnrec.cli import main
from learnrec.warehouse import connect_warehouse
from tests.nudges.conftest import add_learners, learner


def test_run_for_a_date_drafts_plans_delivers_and_reruns_idempotently(settings, capsys) -> None:
    with connect_warehouse(settings) as warehouse:
        add_learners(warehouse, learner("L1"), learner("L2", timezone="Asia/Tokyo", email=None))
    argv = ["nudges", "run", "--date", "2026-03-10", "--now", "2026-03-10T14:00:00+00:00"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["drafts"] == 2 and report["plan"]["pending"] == 2
    assert (report["deliver"]["sent"], report["deliver"]["deferred"]) == (1, 1)

    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["plan"]["already_planned"] == 2 and again["deliver"]["sent"] == 0

    assert main(["nudges", "deliver", "--now", "2026-03-11T00:00:00Z"]) == 0  # 09:00 in Tokyo
    assert json.loads(capsys.readouterr().out)["deliver"]["sent"] == 1
    lines = [p.read_text().splitlines() for p in settings.outbox_path.rglob("*.jsonl")]
    assert sum(map(len, lines)) == 2

    # support unsubscribes L1: the next day's nudge is suppressed with the reason
    assert main(["nudges", "unsubscribe", "L1"]) == 0
    capsys.readouterr()
    assert main(["nudges", "run", "--date", "2026-03-11", "--now", "2026-03-11T14:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out)["plan"]["suppressed"] == {"no_channel": 1}


def test_bad_arguments_exit_2(settings, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["nudges", "plan", "--date", "10/03/2026"])
    assert exit_info.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_demo_showcase_prints_decisions_and_a_sample(settings, capsys) -> None:
    from learnrec.commands.showcase import print_nudge_samples

    with connect_warehouse(settings) as warehouse:
        add_learners(warehouse, learner("L1"), learner("L2", email_opt_in=False, push_opt_in=False))
    print_nudge_samples(settings)
    assert "none planned yet" in capsys.readouterr().out
    main(["nudges", "run", "--date", "2026-03-10", "--now", "2026-03-10T14:00:00Z"])
    capsys.readouterr()
    print_nudge_samples(settings)
    out = capsys.readouterr().out
    assert "sent" in out and "why not sent: no_channel" in out and "subject:" in out
