"""setup.cfg lists every package (find: cannot see through the plugins/ mapping)."""

from __future__ import annotations

import configparser

from learnrec.settings import PROJECT_ROOT
from tests.layout import FOLDERS


def _declared_packages() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(PROJECT_ROOT / "setup.cfg")
    return {line.strip() for line in parser["options"]["packages"].splitlines() if line.strip()}


def _packages_on_disk() -> set[str]:
    found = set()
    for name, root in FOLDERS.items():  # dags/ holds DAG files, no package
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root)
            found.add(".".join((name, *relative.parts)))
    return found


def test_every_package_is_declared() -> None:
    missing = _packages_on_disk() - _declared_packages()
    assert not missing, f"add to setup.cfg [options] packages: {sorted(missing)}"


def test_no_declared_package_is_missing() -> None:
    assert _declared_packages() <= _packages_on_disk()
