"""The text a course is embedded from: skill names first, then title, then a bounded description."""

from __future__ import annotations

from ml.embeddings import DESCRIPTION_WORDS, course_text


def test_skill_names_come_first_then_title_then_description() -> None:
    text = course_text("Intro to Data", "Learn pandas.", ["S001", "S999"], {"S001": "Python"})
    assert text == "Skills: Python, S999. Intro to Data. Learn pandas."  # S999 has no name: kept


def test_a_long_description_is_cut_not_the_skills() -> None:
    long = " ".join(f"w{i}" for i in range(1000))
    text = course_text("T", long, ["S001"], {"S001": "SQL"})
    assert text.startswith("Skills: SQL. T. w0 ")
    assert len(text.split()) == DESCRIPTION_WORDS + 3 and f"w{DESCRIPTION_WORDS}" not in text.split()


def test_no_skills_and_no_description() -> None:
    assert course_text("T", None, None) == "Skills: none. T."
