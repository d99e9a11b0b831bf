"""Chunked scoring reuses the memory the previous chunk freed instead of faulting it in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ml.buffers import reuse_freed_buffers

# five chunks of 2048 learners x 10k courses through the rules, as the precompute benchmark does;
# prints the page faults taken while ranking
RANK_CHUNKS = """
import resource, sys, torch
torch.set_num_threads(1)
if sys.argv[1] == "reuse":
    from ml.buffers import reuse_freed_buffers
    assert reuse_freed_buffers()
from benchmarks.recommendations import measure
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
measure(5 * 2048)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", RANK_CHUNKS, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


def test_glibc_accepts_the_setting() -> None:
    assert reuse_freed_buffers()


@pytest.mark.slow
def test_ranking_chunks_takes_far_fewer_page_faults_when_freed_buffers_are_reused() -> None:
    default, reused = _page_faults("default"), _page_faults("reuse")
    assert reused < default / 1.5, (default, reused)  # measured: ~250k vs ~105k
