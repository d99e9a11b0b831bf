"""Erasure requests as ingestion needs to know them: the table, and the keyed learner hash.

A request is recorded under the learner's keyed hash (``LEARNREC_PRIVACY_HASH_KEY``), never the
id itself once it is done, so the record can prove an erasure without holding what was erased.
Ingestion checks each batch's learner ids against these hashes and quarantines later events of an
erased learner (``erased_learner``) instead of landing them again. The eraser that removes the
data from every store lives in :mod:`exports.privacy`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from learnrec.tables import ERASURE_REQUESTS

if TYPE_CHECKING:
    from learnrec.warehouse import Warehouse


def learner_hash(key: str, learner_id: str) -> str:
    """Hex SHA-256 of key + unit separator + id: what the ingest validator's SQL computes too."""
    return hashlib.sha256(f"{key}\x1f{learner_id}".encode()).hexdigest()


def learner_hash_sql(key_param: str, column: str) -> str:
    """DuckDB expression equal to :func:`learner_hash` (``key_param`` names a bound parameter)."""
    return f"sha256(${key_param} || chr(31) || {column})"


def erased_hashes(warehouse: Warehouse) -> pa.Array:
    """Hashes of every learner with an erasure request (pending or done); empty before the first."""
    if not warehouse.table_exists(ERASURE_REQUESTS):
        return pa.array([], pa.string())
    return warehouse.query(f"SELECT DISTINCT learner_hash FROM {ERASURE_REQUESTS}").column(0).combine_chunks()


@dataclass(frozen=True)
class ErasedLearners:
    """Keyed hashes of erased learners and the key that made them."""

    hashes: pa.Array
    key: str

    def without_erased(self, table: pa.Table) -> pa.Table:
        """``table`` minus the rows of erased learners (by its ``learner_id`` column)."""
        if not len(self.hashes) or "learner_id" not in table.column_names:
            return table
        hashed = pa.array([learner_hash(self.key, i) for i in table.column("learner_id").to_pylist()])
        return table.filter(pc.invert(pc.is_in(hashed, value_set=self.hashes.cast(pa.string()))))
