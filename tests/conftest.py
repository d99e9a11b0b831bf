"""Shared fixtures: every test gets its own LEARNREC_HOME, so tests never touch the demo's state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from learnrec.settings import Settings, get_settings, load_settings


@pytest.fixture
def learnrec_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh state folder selected through the environment, as a deployment would."""
    home = tmp_path / "learnrec-home"
    monkeypatch.setenv("LEARNREC_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def settings(learnrec_home: Path) -> Settings:
    return load_settings()
