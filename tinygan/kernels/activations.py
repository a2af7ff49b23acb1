"""Fused activations and their derivatives (docs/derivations.md, "Activations").

Each op is one GPU kernel for what NumPy-style code spends several on: sigmoid via
e^{-|s|} is eight array operations, LeakyReLU's phi' three. The formulas are those of
``tinygan/nn/activations.py`` and ``tinygan/nn/functional.py``; NaN passes through every
forward (a diverging run must stay visible), and exp is only taken of -|s| <= 0.
"""
from __future__ import annotations

import numpy

from .elementwise import ElementwiseOp


def _activation_inputs(rng, dtype):
    """Normal draws plus the edge cases: +-0, tiny, large, +-inf and NaN."""
    a = rng.standard_normal((7, 13)).astype(dtype) * 3
    a.flat[:9] = [0.0, -0.0, 1e-30, -1e-30, 80.0, -80.0, numpy.inf, -numpy.inf, numpy.nan]
    return a


def _one(**values):
    """One example case (ops may give several)."""
    return [values]


relu = ElementwiseOp(
    "relu", "T a", "", "T y",
    "y = a <= T(0) ? T(0) : a;",          # NaN <= 0 is false: NaN passes
    reference=lambda a: numpy.maximum(a, 0),
    example=lambda rng, dtype: _one(a=_activation_inputs(rng, dtype)),
    doc="y = max(a, 0)")

relu_grad = ElementwiseOp(
    "relu_grad", "T a", "", "T dphi",
    "dphi = a > T(0) ? T(1) : T(0);",
    reference=lambda a: (a > 0).astype(a.dtype),
    example=lambda rng, dtype: _one(a=_activation_inputs(rng, dtype)),
    doc="phi'(a) = [a > 0]")

leaky_relu = ElementwiseOp(
    "leaky_relu", "T a", "T alpha", "T y",
    "y = a <= T(0) ? alpha * a : a;",     # NaN <= 0 is false: NaN passes
    reference=lambda a, alpha: numpy.where(a > 0, a, a * a.dtype.type(alpha)),
    example=lambda rng, dtype: _one(a=_activation_inputs(rng, dtype), alpha=0.2),
    doc="y = a if a > 0 else alpha a  (0 < alpha < 1; alpha = 0 is relu)")

leaky_relu_grad = ElementwiseOp(
    "leaky_relu_grad", "T a", "T alpha", "T dphi",
    "dphi = a > T(0) ? T(1) : alpha;",
    reference=lambda a, alpha: numpy.where(a > 0, 1, alpha).astype(a.dtype),
    example=lambda rng, dtype: _one(a=_activation_inputs(rng, dtype),
                                    alpha=0.2),
    doc="phi'(a) = 1 if a > 0 else alpha")


def _sigmoid_reference(s):
    e = numpy.exp(-numpy.abs(s))
    return numpy.where(s >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = ElementwiseOp(
    "sigmoid", "T s", "", "T y",
    """
    const T e = exp(-fabs(s));             // in (0, 1]: never overflows
    y = s >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
    """,
    reference=_sigmoid_reference,
    example=lambda rng, dtype: _one(s=_activation_inputs(rng, dtype)),
    doc="sigma(s) = 1 / (1 + e^{-s}), through e^{-|s|}")

softplus = ElementwiseOp(
    "softplus", "T s", "", "T y",
    "y = (s > T(0) ? s : T(0)) + log1p(exp(-fabs(s)));",
    reference=lambda s: numpy.maximum(s, 0) + numpy.log1p(numpy.exp(-numpy.abs(s))),
    example=lambda rng, dtype: _one(s=_activation_inputs(rng, dtype)),
    doc="log(1 + e^s) = max(s, 0) + log1p(e^{-|s|})")


def _unit_outputs(rng, dtype, low):
    """Activation outputs y in [low, 1] (tanh: low = -1; sigmoid: 0), ends included."""
    y = rng.uniform(low, 1, (7, 13)).astype(dtype)
    y.flat[:3] = [low, 1.0, 0.0]
    return y


tanh_grad = ElementwiseOp(
    "tanh_grad", "T y", "", "T dphi",
    "dphi = T(1) - y * y;",
    reference=lambda y: 1 - y * y,
    example=lambda rng, dtype: _one(y=_unit_outputs(rng, dtype, -1.0)),
    doc="tanh'(a) = 1 - y^2 with y = tanh a")

tanh_second = ElementwiseOp(
    "tanh_second", "T y", "", "T d2phi",
    "d2phi = T(-2) * y * (T(1) - y * y);",
    reference=lambda y: -2 * y * (1 - y * y),
    example=lambda rng, dtype: _one(y=_unit_outputs(rng, dtype, -1.0)),
    doc="tanh''(a) = -2 y (1 - y^2)")

sigmoid_grad = ElementwiseOp(
    "sigmoid_grad", "T y", "", "T dphi",
    "dphi = y * (T(1) - y);",
    reference=lambda y: y * (1 - y),
    example=lambda rng, dtype: _one(y=_unit_outputs(rng, dtype, 0.0)),
    doc="sigma'(a) = y (1 - y) with y = sigma(a)")

sigmoid_second = ElementwiseOp(
    "sigmoid_second", "T y", "", "T d2phi",
    "d2phi = y * (T(1) - y) * (T(1) - T(2) * y);",
    reference=lambda y: y * (1 - y) * (1 - 2 * y),
    example=lambda rng, dtype: _one(y=_unit_outputs(rng, dtype, 0.0)),
    doc="sigma''(a) = y (1 - y)(1 - 2 y)")
