"""One spelling per table: a qualified table name appears as a string in one module only.

A name two modules spell is two owners of one table (``recs.learning_paths`` was written out in
exports and in the Learning Path Agent): it belongs in ``learnrec.tables``, which both import.
The scan reads the string constants of the production packages (docstrings and help texts
aside: prose may name a table).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dags", "exports", "ml", "plugins/learnrec", "spark_jobs")
QUALIFIED = re.compile(r"\b(?:raw|staging|intermediate|marts|features|recs|ops)\.[a-z_][a-z0-9_]*[a-z0-9]\b")


def _prose(tree: ast.Module) -> set[int]:
    """Docstrings and command-line help texts (``help=``, ``description=``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
        elif isinstance(node, ast.keyword) and node.arg in ("help", "description"):
            found.update(id(part) for part in ast.walk(node.value))
    return found


def spellings(source: str) -> set[str]:
    """The qualified table names a module's string constants (f-string parts too) spell."""
    tree = ast.parse(source)
    prose = _prose(tree)
    return {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
        for name in QUALIFIED.findall(node.value)
    }


def test_the_scan_sees_names_in_sql_and_fstrings_but_not_in_prose() -> None:
    source = (
        '"""Reads raw.learners."""\nT = "raw.courses"\nQ = f"SELECT * FROM marts.dim_courses WHERE id = {T}"\n'
        'p.add_argument("--x", help="writes recs.runs")\n'
    )
    assert spellings(source) == {"raw.courses", "marts.dim_courses"}


def test_every_qualified_table_name_is_spelled_in_one_module() -> None:
    modules = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in spellings(path.read_text()):
                modules[name].append(str(path.relative_to(ROOT)))
    twice = {name: paths for name, paths in modules.items() if len(paths) > 1}
    assert not twice, f"spelled in several modules (put them in learnrec.tables): {twice}"
    assert modules["recs.learning_paths"] == ["plugins/learnrec/tables.py"]
