"""Process memory settings for jobs that allocate the same large buffers over and over.

Chunked scoring allocates the same working matrices for every chunk (the scorer's output, the
rules' gathered blocks, the candidate arrays). glibc serves large blocks with ``mmap`` and trims
freed memory back to the kernel, so each chunk page-faults its buffers in again and the kernel
zeroes them. Measured on the recommendations benchmark (20k learners, one run each): page faults
471k -> 69k, system CPU 1.8 s -> 0.2 s, wall 11.2 s -> 7.1 s.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from (and return to) the heap instead of their own mappings.
KEEP_BYTES = 1 << 30


def reuse_freed_buffers() -> bool:
    """Keep freed large blocks in the heap for the next chunk (this process, from now on).

    Safe for batch processes: the heap then stays at its high-water mark, which the chunk size
    already bounds. Returns False (and changes nothing) where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        done = (
            libc.mallopt(_M_MMAP_THRESHOLD, KEEP_BYTES) == 1
            and libc.mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES) == 1
        )
    except (OSError, AttributeError):
        done = False
    if not done:
        log.info("glibc mallopt unavailable: large buffers are returned to the kernel when freed")
    return done
