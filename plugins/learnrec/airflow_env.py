"""The environment that points Airflow at this project on the embedded defaults.

Used by ``learnrec airflow ...``, ``learnrec demo`` and the test suite, so that the UI, the demo
and the tests all load the same DAGs and plugins with their state under ``LEARNREC_HOME``.
Production deployments set these through their own Airflow configuration instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path

from learnrec.settings import PROJECT_ROOT, Settings

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def metadata_db(settings: Settings) -> Path:
    """The embedded Airflow metadata DB (SQLite) under the state folder."""
    return settings.airflow_home / "airflow.db"


def airflow_environment(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    home = settings.airflow_home
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{metadata_db(settings)}",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            # the embedded UI is a local developer tool: no login (production uses a real auth manager)
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # no usage telemetry from cosmos (and no failing calls to the internet from tasks)
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            # the child processes must see the same learnrec settings as this one
            "LEARNREC_HOME": str(settings.home),
            # `airflow standalone` starts its components as `airflow ...` subprocesses
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        }
    )
    return env


def run_airflow(
    settings: Settings,
    args: Sequence[str],
    *,
    check: bool = True,
    extra_env: Mapping[str, str] | None = None,
    output: Path | None = None,
) -> int:
    """Run the ``airflow`` CLI of this virtual environment with the project's environment.

    With ``output``, everything Airflow prints (under ``dags test``: every task's log) goes to that
    file, rewritten, instead of the terminal.
    """
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    env = {**airflow_environment(settings), **(extra_env or {})}
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w") if output else nullcontext() as sink:
        if not metadata_db(settings).exists() and list(args[:2]) != ["db", "migrate"]:
            subprocess.run(
                [AIRFLOW, "db", "migrate"],
                env=env,
                check=True,
                stdout=sink or subprocess.DEVNULL,
                stderr=sink,
            )
        completed = subprocess.run([AIRFLOW, *args], env=env, check=False, stdout=sink, stderr=sink)
    if check and completed.returncode != 0:
        where = f" (output in {output})" if output else ""
        raise RuntimeError(f"airflow {' '.join(args)} failed with exit code {completed.returncode}{where}")
    return completed.returncode
