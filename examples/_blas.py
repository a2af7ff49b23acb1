"""What every example script does first: the BLAS thread count, and tinygan on the path
in a source checkout. Imports nothing numeric: the variables must be set before NumPy
(and with it OpenBLAS) is first imported."""
import os
import sys

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def set_blas_threads(n):
    """Set the BLAS thread count, and tinygan's for its elementwise work
    (``TINYGAN_THREADS``, tinygan/parallel.py); must run before NumPy is first imported.

    n None: one thread unless the environment already sets a count (OpenBLAS threads
    spin while idle, and on a busy 2-core machine two of them made a step up to 10x
    slower; docs/design-notes.md); 0: leave BLAS alone; n > 0: n threads. With n > 1,
    idle OpenBLAS threads sleep at once (``OPENBLAS_THREAD_TIMEOUT=4``, unless set)
    instead of spinning on the cores tinygan's threads need after each matrix product."""
    if n is None:
        if any(var in os.environ for var in BLAS_THREAD_VARS):
            return
        n = 1
    if n > 0:
        for var in BLAS_THREAD_VARS + ("TINYGAN_THREADS",):
            os.environ[var] = str(n)
        if n > 1:
            os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def start(threads):
    """``set_blas_threads(threads)``, then make ``import tinygan`` work when the script
    runs from a source checkout without tinygan installed."""
    set_blas_threads(threads)
    try:
        import tinygan  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
