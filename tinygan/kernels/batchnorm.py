"""Fused BatchNorm elementwise passes (docs/derivations.md, "BatchNorm").

The per-channel statistics (means, sums) stay reductions; what is fused is the
elementwise work around them, which NumPy-style code spends four or five full-size
temporaries on. Per-channel inputs have shape (1, C) or (1, C, 1, 1) and broadcast.
"""
from __future__ import annotations

import numpy

from .elementwise import ElementwiseOp


def _per_channel(rng, dtype, c, positive=False):
    v = rng.standard_normal((1, c, 1, 1)).astype(dtype)
    return numpy.abs(v) + dtype.type(0.5) if positive else v


def _forward_reference(x, mu, inv_sigma, gamma, beta):
    xhat = (x - mu) * inv_sigma
    return xhat, xhat * gamma + beta


def _forward_example(rng, dtype):
    dtype = numpy.dtype(dtype)
    return [{"x": rng.standard_normal((4, 3, 5, 2)).astype(dtype),
             "mu": _per_channel(rng, dtype, 3), "inv_sigma": _per_channel(rng, dtype, 3, True),
             "gamma": _per_channel(rng, dtype, 3), "beta": _per_channel(rng, dtype, 3)}]


batchnorm_forward = ElementwiseOp(
    "batchnorm_forward", "T x, T mu, T inv_sigma, T gamma, T beta", "", "T xhat, T y",
    """
    xhat = (x - mu) * inv_sigma;          // xhat = (x - mu) / sigma
    y = xhat * gamma + beta;              // y = gamma xhat + beta
    """,
    reference=_forward_reference,
    example=_forward_example,
    doc="xhat = (x - mu) / sigma;  y = gamma xhat + beta")


def _backward_reference(dy, xhat, sum_dy, sum_dy_xhat, g_over_m, m):
    m = dy.dtype.type(m)
    return ((dy * m - sum_dy) - xhat * sum_dy_xhat) * g_over_m


def _backward_example(rng, dtype):
    dtype = numpy.dtype(dtype)
    return [{"dy": rng.standard_normal((4, 3, 5, 2)).astype(dtype),
             "xhat": rng.standard_normal((4, 3, 5, 2)).astype(dtype),
             "sum_dy": _per_channel(rng, dtype, 3), "sum_dy_xhat": _per_channel(rng, dtype, 3),
             "g_over_m": _per_channel(rng, dtype, 3), "m": 40}]


batchnorm_backward = ElementwiseOp(
    "batchnorm_backward", "T dy, T xhat, T sum_dy, T sum_dy_xhat, T g_over_m", "T m",
    "T dx",
    "dx = ((dy * m - sum_dy) - xhat * sum_dy_xhat) * g_over_m;",
    reference=_backward_reference,
    example=_backward_example,
    doc="dx = (gamma / (m sigma)) (m dy - sum dy - xhat sum(dy xhat))")
