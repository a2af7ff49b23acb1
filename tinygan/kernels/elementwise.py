"""One fused elementwise operation: a CUDA C loop body for CuPy, and its NumPy reference.

CuPy runs every array expression as its own kernel: Adam written with in-place NumPy
operations is 13 launches per parameter array, and LeakyReLU's phi' three. At the batch
sizes of a GAN step the GPU spends more time launching than computing. An
:class:`ElementwiseOp` states a chain of such operations once, as the body of a
``cupy.ElementwiseKernel`` (one launch, one pass over memory), beside a plain NumPy
transcription of the same equations, the **reference**.

The NumPy backend never runs the bodies: its own paths (in the layers and optimisers) are
tuned for NumPy and are checked against the same references. The bodies are checked
without a GPU too, by :mod:`tinygan.kernels.hostcheck`, which compiles each one as C++ on
the host and compares it with its reference in float32 and float64. So the chain of
evidence is: NumPy path == reference (tests/test_kernels.py), body == reference (host
compiler, and on a GPU the real kernel), hence the fused GPU step computes what the
NumPy step computes.

Rules the bodies follow, so the host compiler and NVRTC read them alike:

* ``T`` is the array dtype (CuPy emits ``typedef float T;``); constants are written
  ``T(0.5)``, never a bare double literal (that would compute in float64 on the GPU).
* No ``max``/``min`` on floats: CUDA's are fmaxf/fminf, which drop NaN, while
  ``std::max`` keeps it or not depending on argument order. Ternaries state the NaN
  behaviour explicitly (a NaN must survive, so that a diverging run is noticed).
* ``i`` is the element index (reserved by CuPy, as are ``n`` and names starting with
  ``_``); ``raw`` parameters are indexed by hand with C-order flat indices.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy

from ..backend import get_array_module

_PARAM = re.compile(r"^\s*(raw\s+)?([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)\s*$")
_RESERVED = {"i", "n"}

# name -> ElementwiseOp, in definition order (the tests walk it)
REGISTRY: dict = {}

_switch = {"enabled": os.environ.get("TINYGAN_FUSED", "1").strip() not in ("0", "false", "no")}


def set_fused(enabled: bool) -> bool:
    """Switch the fused GPU kernels on or off (default on; ``TINYGAN_FUSED=0`` starts
    with them off). Off, CuPy runs the same array expressions as NumPy, one kernel per
    operation: the unfused path the fused one is compared with. Returns the old value."""
    old = _switch["enabled"]
    _switch["enabled"] = bool(enabled)
    return old


def fused_enabled() -> bool:
    return _switch["enabled"]


def use_kernels(*arrays) -> bool:
    """True when the arrays live on the GPU (CuPy) and fused kernels are switched on."""
    return _switch["enabled"] and get_array_module(*arrays) is not numpy


@dataclass(frozen=True)
class Param:
    """One kernel parameter: its type (``T``, ``int32``, ``float64``, ...), its name, and
    whether it is ``raw`` (indexed by hand) or read at the element index ``i``."""
    type: str
    name: str
    raw: bool = False

    def declaration(self) -> str:
        return f"{'raw ' if self.raw else ''}{self.type} {self.name}"


def parse_params(text: str, where: str) -> tuple:
    """``"T g, raw T cols, int32 kh"`` -> (Param, ...), with a clear error on a typo."""
    params = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _PARAM.match(part)
        if not match:
            raise ValueError(f"{where}: cannot read parameter {part!r}; expected "
                             "'[raw] TYPE NAME', e.g. 'T x' or 'raw T cols'")
        raw, type_, name = match.groups()
        if name in _RESERVED or name.startswith("_"):
            raise ValueError(f"{where}: parameter name {name!r} is reserved by CuPy "
                             "(i, n and names starting with '_')")
        params.append(Param(type_, name, bool(raw)))
    return tuple(params)


class ElementwiseOp:
    """A fused elementwise operation.

    ``inputs``: arrays read at element i (broadcast like NumPy) or ``raw``; ``scalars``:
    per-call numbers (hyperparameters); ``outputs``: arrays written at element i. An
    output may be read before it is written (``m = b1 * m + ...``): the call then updates
    the array passed for it in place. ``reference(**values)`` computes the outputs from
    NumPy arrays with plain NumPy (allocating, in the order of the equations), and
    ``example(rng, dtype)`` draws a dict of test values, outputs' initial values
    included, that reaches every branch of the body.

    Call it with keywords, ``op(g=g, p=p, m=m, ...)``; outputs left out are allocated.
    It returns the outputs (a tuple when there are several). ``register=False`` keeps it
    out of :data:`REGISTRY` (the list the tests check).
    """

    def __init__(self, name, inputs, scalars, outputs, body, reference, example, doc="",
                 register=True):
        where = f"ElementwiseOp {name!r}"
        self.name = name
        self.inputs = parse_params(inputs, where)
        self.scalars = parse_params(scalars, where)
        self.outputs = parse_params(outputs, where)
        names = [p.name for p in self.inputs + self.scalars + self.outputs]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: parameter names repeat: {names}")
        if any(p.raw for p in self.scalars + self.outputs):
            raise ValueError(f"{where}: only inputs may be raw")
        self.body = body.strip()
        self.reference = reference
        self.example = example
        self.__doc__ = doc
        self._kernel = None
        if register:
            if name in REGISTRY:
                raise ValueError(f"{where}: defined twice")
            REGISTRY[name] = self

    # -- CuPy -----------------------------------------------------------------------
    def kernel(self):
        """The ``cupy.ElementwiseKernel``, built on first use (CuPy compiles it on its
        first call and caches the binary on disk)."""
        if self._kernel is None:
            import cupy

            in_params = ", ".join(p.declaration() for p in self.inputs + self.scalars)
            out_params = ", ".join(p.declaration() for p in self.outputs)
            self._kernel = cupy.ElementwiseKernel(in_params, out_params, self.body,
                                                  name=f"tinygan_{self.name}")
        return self._kernel

    def __call__(self, **values):
        where = f"kernels.{self.name}"
        expected = {p.name for p in self.inputs + self.scalars + self.outputs}
        required = {p.name for p in self.inputs + self.scalars}
        unknown = set(values) - expected
        if unknown or not required <= set(values):
            raise TypeError(f"{where}: expected keywords {sorted(required)} (and outputs "
                            f"{[p.name for p in self.outputs]}), got {sorted(values)}")
        dtype = values[self.inputs[0].name].dtype
        args = [values[p.name] for p in self.inputs]
        # Scalars are passed as NumPy scalars of their declared type (T: the arrays'
        # dtype), so CuPy never has to guess the type of a Python number.
        args += [_typed_scalar(values[p.name], p.type, dtype) for p in self.scalars]
        outs = [values.get(p.name) for p in self.outputs]
        if all(o is not None for o in outs):
            args += outs
        elif any(o is not None for o in outs):
            raise TypeError(f"{where}: pass all outputs {[p.name for p in self.outputs]} "
                            "or none")
        return self.kernel()(*args)

    def __repr__(self):
        return (f"ElementwiseOp({self.name}: "
                f"({', '.join(p.declaration() for p in self.inputs + self.scalars)}) -> "
                f"({', '.join(p.declaration() for p in self.outputs)}))")


def _typed_scalar(value, type_name: str, dtype):
    return (dtype.type if type_name == "T" else numpy.dtype(type_name).type)(value)
