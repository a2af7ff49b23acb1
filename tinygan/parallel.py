"""Elementwise work on every core: a long array cut into blocks, the blocks spread over
threads.

NumPy releases the GIL inside its ufunc loops, so threads that each run the same chain of
ufuncs on their own slice of an array run on separate cores at once. Every element is
still computed by the same operations in the same order, so the result is bit for bit
that of one pass, whatever the thread count. ``for_blocks(n, work)`` calls
``work(lo, hi)`` on consecutive slices of at most ``BLOCK`` elements covering
[0, n); with one thread it does so in order, in the calling thread. With
``unit=u`` the n items are rows of u elements each (col2im's channels), cut into
blocks of whole rows, about BLOCK elements each.

The blocks keep a chain of passes (Adam's thirteen) in the core's own cache; one pass
over a whole parameter buffer at a time goes through the shared cache and memory.

The thread count is a setting of its own, 1 unless asked: ``set_threads(n)``, or
``TINYGAN_THREADS`` in the environment. 1 is the single thread of before (block after
block, the same bits). More threads only pay when the cores are free: right after a
matrix product, OpenBLAS's idle worker threads busy-wait for about 0.1 s, on the very
cores these threads need, and measured no faster (docs/design-notes.md, "Elementwise
work on every core"). ``OPENBLAS_THREAD_TIMEOUT=4`` (read when NumPy loads OpenBLAS)
makes them sleep at once; the example scripts' ``--threads N`` sets it with N threads
for both. On CuPy arrays nothing is split (one kernel runs).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import checks

#: elements per block. Measured with Adam on an AMD EPYC (2 MiB L2, 32 MiB L3) and on an
#: Intel Xeon (2 MiB L2 per core): blocks of 2^15/2^16 to 2^18 elements are equally fast
#: on one thread, 2^18 the fastest on two (fewer hand-offs of the GIL between the
#: threads' ufunc calls); one block per buffer is 8-10% slower (docs/design-notes.md,
#: "Elementwise work on every core")
BLOCK = 1 << 18
#: slices shorter than this are not worth handing to another thread
MIN_PER_THREAD = 1 << 15

_state = {"threads": 1, "pool": None}
_lock = threading.Lock()


def default_threads() -> int:
    """``TINYGAN_THREADS`` (a positive int), else 1."""
    value = os.environ.get("TINYGAN_THREADS", "").strip() or "1"
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"TINYGAN_THREADS={value!r}: expected a positive number of threads")
    return int(value)


def set_threads(n: int) -> int:
    """Use ``n`` threads (>= 1) for tinygan's elementwise work; returns the old count."""
    n = checks.integer(n, "n", "set_threads", low=1)
    with _lock:
        old, _state["threads"] = _state["threads"], n
        if _state["pool"] is not None and n != old:
            _state["pool"].shutdown(wait=True)
            _state["pool"] = None
    return old


def get_threads() -> int:
    return _state["threads"]


def _pool(workers):
    with _lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="tinygan")
        return _state["pool"]


def for_blocks(n: int, work, unit: int = 1) -> None:
    """``work(lo, hi)`` for consecutive blocks [lo, hi) that cover [0, n), each exactly
    once: n items of ``unit`` elements each, at most BLOCK elements (or one item) per
    block. With k threads the range is cut into k contiguous parts, one per thread, the
    calling thread taking the first; returns when all are done, raising any part's error."""
    block = max(1, BLOCK // unit)
    k = min(_state["threads"], n, max(1, n * unit // MIN_PER_THREAD))
    if k == 1:
        _blocks(work, 0, n, block)
        return
    # part boundaries on whole cache lines: multiples of 64 elements (float32/64), or of
    # whole items when an item is that long
    align = max(1, 64 // unit)
    bounds = [0] + [(n * i // k) // align * align for i in range(1, k)] + [n]
    futures = [_pool(_state["threads"] - 1).submit(_blocks, work, lo, hi, block)
               for lo, hi in zip(bounds[1:-1], bounds[2:])]
    try:
        _blocks(work, bounds[0], bounds[1], block)
    finally:
        for future in futures:
            future.result()


def _blocks(work, lo, hi, block):
    for start in range(lo, hi, block):
        work(start, min(start + block, hi))


_state["threads"] = default_threads()
if hasattr(os, "register_at_fork"):   # a forked child has none of the pool's threads
    os.register_at_fork(after_in_child=lambda: _state.update(pool=None))
