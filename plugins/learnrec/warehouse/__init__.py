"""Warehouse adapters: one small interface, DuckDB (embedded default) and Snowflake (production)."""

from learnrec.warehouse.base import Warehouse, connect_warehouse

__all__ = ["Warehouse", "connect_warehouse"]
