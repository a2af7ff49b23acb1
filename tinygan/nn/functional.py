"""Numerically stable elementwise functions shared by layers and losses.

All take the module from their argument, keep its dtype and never overflow: exp is only
ever taken of -|s| <= 0, and NaN passes through (a diverging run must stay visible).
Above each, the CUDA body of its fused GPU kernel (:mod:`tinygan.kernels`).
"""
from __future__ import annotations

from .. import kernels
from ..backend import get_array_module


@kernels.elementwise("T s", "", "T y", """
    const T e = exp(-fabs(s));             // in (0, 1]: never overflows
    y = s >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
""")
def sigmoid(s):
    """sigma(s) = 1 / (1 + e^{-s}), evaluated as e^{-|s|}-based branches (no overflow)."""
    xp = get_array_module(s)
    e = xp.exp(-xp.abs(s))          # in (0, 1]
    return xp.where(s >= 0, 1 / (1 + e), e / (1 + e))


@kernels.elementwise("T s", "", "T y", "y = (s > T(0) ? s : T(0)) + log1p(exp(-fabs(s)));")
def softplus(s):
    """log(1 + e^s) = max(s, 0) + log1p(e^{-|s|})."""
    xp = get_array_module(s)
    return xp.maximum(s, 0) + xp.log1p(xp.exp(-xp.abs(s)))
