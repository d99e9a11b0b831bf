"""Fixtures shared by the plugin tests: a fakesnow server for the Snowflake paths.

The Snowflake adapter (tests/plugins/warehouse/) and ingestion on Snowflake (tests/plugins/ingest/)
run the real snowflake-connector-python against ``fakesnow.server()`` (Snowflake's HTTP wire
protocol over DuckDB, in a thread of the test process). Two fakesnow gaps are patched in its
server code, never in the adapter or the connector, so that the adapter's real code path runs as
it would against Snowflake:

* fakesnow returns NULL timestamps as 1970-01-01 (its Arrow struct conversion drops the validity
  mask); the patch keeps the mask.
* fakesnow stores ARRAY, OBJECT and VARIANT all as DuckDB JSON and reports every one of them as
  VARIANT in result metadata; Snowflake reports ARRAY columns as ARRAY. The patch reports the
  test's list columns (``ARRAY_COLUMNS``) as ARRAY, as Snowflake would.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from pydantic import SecretStr

from learnrec.settings import Settings

#: Result columns declared ARRAY in the tests (fakesnow cannot tell them from VARIANT).
ARRAY_COLUMNS = frozenset({"TAGS", "SCORES", "SKILL_VECTOR"})


def _keep_null_timestamps(original: Any) -> Any:
    def convert(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(ts, pa.ChunkedArray):
            ts = ts.combine_chunks()
        struct = original(ts)
        if not ts.null_count:
            return struct
        fields = [struct.type.field(i) for i in range(struct.type.num_fields)]
        return pa.StructArray.from_arrays(struct.flatten(), fields=fields, mask=ts.is_null())

    return convert


def _report_arrays(original: Any) -> Any:
    def describe(results: list) -> list:
        infos = original(results)
        for info in infos:
            if info["type"] == "variant" and info["name"] in ARRAY_COLUMNS:
                info["type"] = "array"
        return infos

    return describe


def on_snowflake(settings: Settings, server: dict[str, Any], database: str) -> Settings:
    """``settings`` with the warehouse on the fakesnow ``server`` (lake and landing stay local)."""
    return settings.model_copy(
        update={
            "warehouse": "snowflake",
            "snowflake_account": server["account"],
            "snowflake_user": server["user"],
            "snowflake_password": SecretStr(server["password"]),
            "snowflake_database": database,
            "snowflake_host": server["host"],
            "snowflake_port": server["port"],
            "snowflake_protocol": server["protocol"],
        }
    )


@pytest.fixture(scope="session")
def fakesnow_server() -> Iterator[dict[str, Any]]:
    """Connection keyword arguments of a fakesnow server shared by the session's tests.

    Started like ``fakesnow.server()`` does (uvicorn in a thread), because importing the
    ``fakesnow.server`` module (to patch it) shadows that function on the package.
    """
    pytest.importorskip("fakesnow")
    import fakesnow.arrow
    import fakesnow.server
    import uvicorn

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            fakesnow.arrow,
            "timestamp_to_sf_struct",
            _keep_null_timestamps(fakesnow.arrow.timestamp_to_sf_struct),
        )
        patch.setattr(
            fakesnow.server, "describe_as_rowtype", _report_arrays(fakesnow.server.describe_as_rowtype)
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(fakesnow.server.app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name="fakesnow server", daemon=True)
        thread.start()
        while thread.is_alive() and not server.started:
            time.sleep(0.05)
        assert server.started, "fakesnow server did not start"
        try:
            yield {
                "account": "fakesnow",
                "user": "fake",
                "password": "snow",
                "host": "127.0.0.1",
                "port": port,
                "protocol": "http",
                "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
                "network_timeout": 5,
            }
        finally:
            server.should_exit = True
            thread.join()


@pytest.fixture
def snowflake_database() -> str:
    """A database of its own per test: fakesnow's server shares one in-memory catalog."""
    return f"LEARNREC_{uuid.uuid4().hex[:12].upper()}"
