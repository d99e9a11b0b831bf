"""The project's top-level code folders by import name (``learnrec`` is mapped from plugins/)."""

from __future__ import annotations

from learnrec.settings import PROJECT_ROOT

FOLDERS = {
    "learnrec": PROJECT_ROOT / "plugins" / "learnrec",
    "spark_jobs": PROJECT_ROOT / "spark_jobs",
    "ml": PROJECT_ROOT / "ml",
    "exports": PROJECT_ROOT / "exports",
    "benchmarks": PROJECT_ROOT / "benchmarks",
    "dags": PROJECT_ROOT / "dags",
}
