"""Imports point down the layers of DESIGN.md: production code never reaches up or sideways.

* No production package (``learnrec``, ``spark_jobs``, ``ml``, ``exports``, the DAG files) imports
  ``benchmarks`` or ``tests``. The exceptions are the two CLI commands that run them on demand:
  ``learnrec bench`` (the harness) and ``learnrec evaluate`` (mart-shaped tables built from a world).
* The base package ``learnrec`` does not import ``ml``, ``exports`` or ``spark_jobs``, except its
  CLI (``cli.py`` and ``commands/``): the one place that dispatches to every stage.
* ``spark_jobs`` and ``ml`` import only ``learnrec`` of the project, ``exports`` also ``ml``.

An import is an ``import``/``from`` statement anywhere in a module (the lazy ones inside functions
too) or a string naming a module the way ``importlib`` registries do (``"pkg.module:function"``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from learnrec.settings import PROJECT_ROOT
from tests.layout import FOLDERS

NOT_PRODUCTION = {"benchmarks", "tests"}
#: production package -> its folder
PACKAGES = {name: folder for name, folder in FOLDERS.items() if name not in NOT_PRODUCTION}
#: package -> the project packages it may not import
FORBIDDEN = {
    "learnrec": NOT_PRODUCTION | {"ml", "exports", "spark_jobs"},
    "spark_jobs": NOT_PRODUCTION | {"ml", "exports"},
    "ml": NOT_PRODUCTION | {"exports", "spark_jobs"},
    "exports": NOT_PRODUCTION | {"spark_jobs"},
    "dags": NOT_PRODUCTION,
}
#: modules (relative to the project root) allowed more, and what
ALLOWED = {
    "plugins/learnrec/cli.py": {"ml", "exports", "spark_jobs"},
    "plugins/learnrec/commands/*": {"ml", "exports", "spark_jobs"},
    "plugins/learnrec/commands/bench.py": {"benchmarks"},
    "plugins/learnrec/commands/evaluate.py": {"benchmarks"},
}
_PROJECT = "|".join(sorted({*PACKAGES, *NOT_PRODUCTION}))
_MODULE_STRING = re.compile(rf"^({_PROJECT})(\.\w+)+(:\w+)?$")


def imported_packages(source: str) -> set[str]:
    """The top-level packages a module's source imports (statements anywhere, module strings)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and (match := _MODULE_STRING.match(str(node.value))):
            found.add(match.group(1))
    return found


def _allowed(path: Path) -> set[str]:
    relative = path.relative_to(PROJECT_ROOT)
    return set().union(*(extra for pattern, extra in ALLOWED.items() if relative.match(pattern)))


def violations(package: str) -> list[str]:
    found = []
    for path in sorted(PACKAGES[package].rglob("*.py")):
        wrong = imported_packages(path.read_text()) & (FORBIDDEN[package] - _allowed(path))
        found += [f"{path.relative_to(PROJECT_ROOT)} imports {name}" for name in sorted(wrong)]
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_production_imports_point_down(package: str) -> None:
    assert violations(package) == []


def test_the_scanner_sees_lazy_imports_and_registry_strings() -> None:
    source = 'import os\ndef f():\n    from ml.training import x\nSUITES = {"a": "benchmarks.world:run"}\n'
    assert imported_packages(source) == {"os", "ml", "benchmarks"}
    assert imported_packages('"""See benchmarks.world for the figures."""\nNAME = "ml"\n') == set()


def test_the_allowances_are_the_cli_only() -> None:
    cli = PROJECT_ROOT / "plugins" / "learnrec" / "commands" / "bench.py"
    assert _allowed(cli) == {"ml", "exports", "spark_jobs", "benchmarks"}
    assert _allowed(PROJECT_ROOT / "plugins" / "learnrec" / "demo.py") == set()
