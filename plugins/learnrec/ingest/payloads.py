"""Consumed payloads: the raw text of each event with the coordinates it came from.

A batch of payloads is an Arrow table (:data:`PAYLOAD_SCHEMA`) whatever the source; splitting a
landing file into lines is done by Arrow kernels over the file's bytes, not line by line in Python.
"""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pyarrow as pa

from learnrec.ingest.landing import read_lines
from learnrec.ingest.tables import SOURCE_FIELDS

#: ``arrived_at`` is when the source received the payload (the landing file's hour, the Kafka
#: message's timestamp): an event whose UTC day had closed by then is late.
PAYLOAD_SCHEMA = pa.schema(
    [
        pa.field("payload", pa.large_string(), nullable=False),
        *SOURCE_FIELDS,
        pa.field("arrived_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def lines_table(
    data: bytes, *, source: str, source_uri: str, arrived_at: datetime, first_line: int = 1
) -> pa.Table:
    r"""One row per line of a JSON-lines file; ``source_offset`` is the 1-based line number
    (``first_line`` is the number of the first line of ``data``: a file's tail is numbered on).

    The newline that ends the last line is not a line of its own; every other line, blank or not,
    is kept (validation quarantines what is not an event, so nothing disappears here). Bytes that
    are not UTF-8 become ``\xNN`` escapes, which JSON forbids inside and outside strings: such a
    line always fails validation and lands in quarantine with its bytes still readable.
    """
    lines = read_lines(io.BytesIO(data), len(data), first_line=first_line, max_line_bytes=len(data))
    return payload_table(
        lines.text,
        source=source,
        source_uri=source_uri,
        offsets=pa.array(lines.numbers),
        arrived_at=arrived_at,
    )


def payload_table(
    payloads: pa.Array,
    *,
    source: str,
    source_uri: str | pa.Array,
    offsets: pa.Array | None,
    arrived_at: datetime | pa.Array,
    partitions: pa.Array | None = None,
) -> pa.Table:
    """Assemble a payload table; ``offsets`` default to 1-based positions (line numbers)."""
    n = len(payloads)
    stamp = pa.timestamp("us", tz="UTC")
    return pa.Table.from_arrays(
        [
            payloads.cast(pa.large_string()),
            pa.repeat(pa.scalar(source, pa.string()), n),
            source_uri
            if isinstance(source_uri, pa.Array)
            else pa.repeat(pa.scalar(source_uri, pa.string()), n),
            partitions if partitions is not None else pa.nulls(n, pa.int32()),
            offsets if offsets is not None else pa.array(np.arange(1, n + 1, dtype=np.int64)),
            arrived_at if isinstance(arrived_at, pa.Array) else pa.repeat(pa.scalar(arrived_at, stamp), n),
        ],
        schema=PAYLOAD_SCHEMA,
    )
