"""Set-up installs exactly the lock file, with the CPU build of torch, through the Makefile."""

from __future__ import annotations

import re

from learnrec.settings import PROJECT_ROOT


def _locked() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_every_dependency_is_pinned_and_torch_is_the_cpu_build() -> None:
    pins = _locked()
    assert pins["torch"].endswith("+cpu")
    assert not [name for name in pins if name.startswith(("nvidia-", "triton"))]
    for direct in (
        "apache-airflow",
        "dbt-core",
        "pyspark",
        "mlflow",
        "great-expectations",
        "implicit",
        "rectools-lightfm",
        "duckdb",
        "fakesnow",
        "confluent-kafka",
        "uv",
    ):
        assert direct in pins, direct
    assert pins["dbt-core"].startswith(("1.10.", "1.11."))  # 1.12 needs a wheel from the internet
    assert "pyspark-client" not in pins  # would overwrite pyspark's own files


def test_makefile_offers_the_documented_targets() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for target in ("demo", "test", "airflow", "bench", "lint", "install", "lock"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    assert "uv pip sync" in makefile and "requirements.lock" in makefile
