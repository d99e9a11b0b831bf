"""One ``ops.agent_runs`` row per agent run: LLM calls, answers, fallbacks by reason, tokens, cost.

This is the per-run token and cost accounting the monitoring DAG and the lead read; the calls
themselves are in the gateway's audit log.
"""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa

from learnrec.llm import RunUsage
from learnrec.warehouse import Warehouse

RUNS_TABLE = "ops.agent_runs"
RUNS_SCHEMA = pa.schema(
    [
        pa.field("agent", pa.string(), nullable=False),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("items", pa.int64(), nullable=False),
        pa.field("provider", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("llm_calls", pa.int64(), nullable=False),
        pa.field("llm_answers", pa.int64(), nullable=False),
        pa.field("requests", pa.int64(), nullable=False),
        pa.field("input_tokens", pa.int64(), nullable=False),
        pa.field("output_tokens", pa.int64(), nullable=False),
        pa.field("cost_usd", pa.float64(), nullable=False),
        pa.field("fallbacks", pa.string(), nullable=False),  # JSON {reason: count}
    ]
)


def record_agent_run(
    warehouse: Warehouse, agent: str, started_at: datetime, usage: RunUsage, *, items: int
) -> None:
    row = {
        "agent": agent,
        "started_at": started_at,
        "items": items,
        "provider": usage.provider,
        "model": usage.model,
        "llm_calls": usage.llm_calls,
        "llm_answers": usage.llm_answers,
        "requests": usage.requests,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": round(usage.cost_usd, 6),
        "fallbacks": json.dumps(usage.fallbacks, sort_keys=True),
    }
    warehouse.load_arrow(RUNS_TABLE, pa.Table.from_pylist([row], schema=RUNS_SCHEMA), mode="append")
