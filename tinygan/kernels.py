"""Fused elementwise operations: one NumPy function and the CUDA body that fuses it.

CuPy runs every array expression as its own kernel: Adam written with in-place array
operations is 13 launches per parameter array, and LeakyReLU's phi' three. At the batch
sizes of a GAN step the GPU spends more time launching than computing. So each such chain
is written twice, side by side where its maths is (the layer's or the optimiser's own
file): as a NumPy function, and above it, as the body of one ``cupy.ElementwiseKernel``::

    @kernels.elementwise("T y", "", "T dphi", "dphi = T(1) - y * y;")
    def tanh_grad(y):
        return 1 - y * y

Calling ``tanh_grad(y)`` runs the kernel when y is a CuPy array and fusion is on
(:func:`use_kernels`, the one switch), and the NumPy function otherwise; the NumPy
function is the body's reference (tests/test_kernels.py compiles every body as C++ on
the host and compares it with its function, and on a GPU compares the real kernels).

Rules the bodies follow, so the host compiler and NVRTC read them alike:

* ``T`` is the array dtype (CuPy emits ``typedef float T;``); constants are written
  ``T(0.5)``, never a bare double literal (that would compute in float64 on the GPU).
* No ``max``/``min`` on floats: CUDA's are fmaxf/fminf, which drop NaN. Ternaries state
  the NaN behaviour explicitly (a NaN must survive, so that a diverging run is noticed).
* ``i`` is the element index (reserved by CuPy, as are ``n`` and names starting with
  ``_``); ``raw`` parameters are indexed by hand with C-order flat indices.
* An output may be read before it is written (``m = b1 * m + ...``): the call then
  updates the array passed for it in place, as the NumPy function does.

Keywords that are not parameters of the body (a scratch buffer ``work``, say) reach the
NumPy function only.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy

from .backend import get_array_module

_PARAM = re.compile(r"^\s*(raw\s+)?([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)\s*$")
_switch = {"enabled": os.environ.get("TINYGAN_FUSED", "1").strip() not in ("0", "false", "no")}


def set_fused(enabled: bool) -> bool:
    """Switch the fused GPU kernels on or off (default on; ``TINYGAN_FUSED=0`` starts
    with them off). Off, CuPy runs the NumPy functions, one kernel per array operation:
    the unfused path the fused one is compared with. Returns the old value."""
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
    """One kernel parameter: type (``T``, ``int32``, ...), name, and whether it is
    ``raw`` (indexed by hand) or read at the element index ``i``."""
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
        if name in ("i", "n") or name.startswith("_"):
            raise ValueError(f"{where}: parameter name {name!r} is reserved by CuPy "
                             "(i, n and names starting with '_')")
        params.append(Param(type_, name, bool(raw)))
    return tuple(params)


class ElementwiseOp:
    """A NumPy function and the CUDA body of the same equations (see the module doc).

    ``inputs``: arrays read at element i (broadcast like NumPy) or ``raw``; ``scalars``:
    per-call numbers; ``outputs``: arrays written at element i (pass all or none).
    ``reference``: the NumPy function, taking the same names in the same order.
    """

    def __init__(self, name, inputs, scalars, outputs, body, reference):
        where = f"ElementwiseOp {name!r}"
        self.name = name
        self.inputs = parse_params(inputs, where)
        self.scalars = parse_params(scalars, where)
        self.outputs = parse_params(outputs, where)
        self.names = [p.name for p in self.inputs + self.scalars + self.outputs]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"{where}: parameter names repeat: {self.names}")
        if any(p.raw for p in self.scalars + self.outputs):
            raise ValueError(f"{where}: only inputs may be raw")
        self.body = body.strip()
        self.reference = reference
        self.__doc__ = reference.__doc__
        self._kernel = None

    def __call__(self, *args, **kwargs):
        first = args[0] if args else kwargs[self.names[0]]
        if use_kernels(first):
            return self._launch(dict(zip(self.names, args), **kwargs))
        return self.reference(*args, **kwargs)

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

    def _launch(self, values):
        dtype = values[self.inputs[0].name].dtype
        args = [values[p.name] for p in self.inputs]
        # Scalars go as NumPy scalars of their declared type (T: the arrays' dtype), so
        # CuPy never has to guess the type of a Python number.
        args += [(dtype.type if p.type == "T" else numpy.dtype(p.type).type)(values[p.name])
                 for p in self.scalars]
        outs = [values.get(p.name) for p in self.outputs]
        if all(o is not None for o in outs):
            args += outs
        elif any(o is not None for o in outs):
            raise TypeError(f"{self.name}: pass all outputs {self.names[-len(outs):]} or none")
        return self.kernel()(*args)


def elementwise(inputs: str, scalars: str, outputs: str, body: str):
    """Decorator: the NumPy function below becomes an :class:`ElementwiseOp` with this
    CUDA ``body`` (parameters declared as ``"T x, raw T cols"``)."""
    return lambda reference: ElementwiseOp(reference.__name__, inputs, scalars, outputs,
                                           body, reference)
