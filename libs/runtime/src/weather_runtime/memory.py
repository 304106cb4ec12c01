"""Allocator tuning for services that move large messages (glibc malloc; a no-op elsewhere)."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

MiB = 1024 * 1024
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
HEAP_BLOCK_LIMIT = 32 * MiB  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
TRIM_THRESHOLD = 256 * MiB
TOP_PAD = 64 * MiB


def reuse_large_buffers() -> bool:
    """Serves blocks up to 32 MiB from malloc's heaps and keeps freed ones for the next message,
    instead of an mmap, page faults on every page and an munmap per buffer; False when the
    allocator is not glibc's."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = all(
        mallopt(option, value)
        for option, value in (
            (_M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (_M_TOP_PAD, TOP_PAD),
        )
    )
    if not done:
        log.warning("malloc refused the large-buffer settings; buffers are mapped per message")
    return done
