"""The array backend: NumPy (CPU) or CuPy (GPU), chosen once, used everywhere.

Two rules keep one code path for both:

* Functions that *receive* arrays take their module from the arrays:
  ``xp = get_array_module(x)`` (the CuPy/Chainer idiom). They never ask the backend.
* Only code that *creates* new arrays (initialisers, noise, data loading) asks the
  backend: ``xp = get_backend()`` and a seeded generator from ``default_rng()``.

The backend is chosen by :func:`set_backend` or by the environment variable
``TINYGAN_BACKEND`` (``numpy`` or ``cupy``) read at first use; the default is NumPy.
"""
from __future__ import annotations

import os
import sys

import numpy

from . import checks

BACKENDS = ("numpy", "cupy")
DEFAULT_DTYPE = numpy.float32

_state = {"name": None, "xp": None, "rng": None}

_CUPY_INSTALL_HINT = (
    "install the CuPy wheel that matches your CUDA toolkit, for example "
    "`pip install tinygan[cuda13]` (cupy-cuda13x) or `pip install tinygan[cuda12]` "
    "(cupy-cuda12x)"
)


def _import_cupy():
    """Import CuPy and check that a CUDA device is usable; clear error otherwise."""
    try:
        import cupy
    except ImportError as err:  # no wheel installed
        raise RuntimeError(
            f"tinygan backend 'cupy' was requested but CuPy cannot be imported ({err}); "
            + _CUPY_INSTALL_HINT
        ) from err
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # driver missing, CUDA mismatch, ...
        raise RuntimeError(
            f"tinygan backend 'cupy' was requested but CUDA is not usable ({err}); "
            "check the NVIDIA driver, or " + _CUPY_INSTALL_HINT
        ) from err
    if n_devices < 1:
        raise RuntimeError(
            "tinygan backend 'cupy' was requested but no CUDA device is present; "
            "use set_backend('numpy') or TINYGAN_BACKEND=numpy on this machine"
        )
    return cupy


def cupy_available() -> bool:
    """True when CuPy imports and a CUDA device is present (used to skip GPU tests)."""
    try:
        _import_cupy()
    except RuntimeError:
        return False
    return True


def set_backend(name: str, seed: int | None = 0):
    """Select ``"numpy"`` or ``"cupy"`` for array creation; returns the array module.

    Also re-seeds the backend's default generator (``seed=None`` for entropy).
    """
    checks.choice(name, "backend", BACKENDS, "set_backend")
    xp = numpy if name == "numpy" else _import_cupy()
    _state.update(name=name, xp=xp, rng=xp.random.default_rng(seed))
    return xp


def _current():
    """The backend state, chosen from $TINYGAN_BACKEND (default numpy) on first use."""
    if _state["xp"] is None:
        set_backend(os.environ.get("TINYGAN_BACKEND", "numpy").strip().lower() or "numpy")
    return _state


def get_backend():
    """The array module (``numpy`` or ``cupy``) used to create new arrays."""
    return _current()["xp"]


def backend_name() -> str:
    """``"numpy"`` or ``"cupy"``."""
    return _current()["name"]


def default_rng():
    """The backend's seeded generator, used by initialisers when none is passed."""
    return _current()["rng"]


def manual_seed(seed: int):
    """Re-seed the backend's default generator (initialisers, noise without own rng)."""
    _state["rng"] = get_backend().random.default_rng(seed)
    return _state["rng"]


def derived_seed(*keys: int) -> int:
    """One integer seed mixed from several (a run's seed, a step, a layer, ...) by NumPy's
    SeedSequence, on the host: independent streams from one user seed."""
    return int(numpy.random.SeedSequence(list(keys)).generate_state(1)[0])


def make_rng(seed: int | None = None):
    """A fresh generator of the current backend (``numpy``/``cupy`` ``default_rng``)."""
    return get_backend().random.default_rng(seed)


def get_array_module(*arrays):
    """The module (numpy or cupy) that owns ``arrays``: ``xp = get_array_module(x)``.

    Returns numpy when CuPy is not installed, so CPU-only machines never import it.
    """
    if _state["name"] == "cupy" or "cupy" in sys.modules:
        import cupy

        return cupy.get_array_module(*arrays)
    return numpy


def to_numpy(a):
    """A host NumPy copy (or the array itself when it already lives on the host)."""
    if isinstance(a, numpy.ndarray) or not hasattr(a, "get"):
        return numpy.asarray(a)
    return a.get()  # cupy.ndarray


def asarray(a, dtype=None):
    """``a`` as an array of the current backend (host -> device copy when on CuPy)."""
    return get_backend().asarray(a, dtype=dtype)
