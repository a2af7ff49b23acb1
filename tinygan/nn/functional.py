"""Numerically stable elementwise functions shared by layers and losses.

All take the module from their argument, keep its dtype and never overflow:
exp is only ever taken of -|s| <= 0. On the GPU each is one fused kernel with the same
formula (``tinygan/kernels/activations.py``).
"""
from __future__ import annotations

from .. import kernels
from ..backend import get_array_module
from ..kernels import use_kernels


def sigmoid(s):
    """sigma(s) = 1 / (1 + e^{-s}), evaluated as e^{-|s|}-based branches (no overflow)."""
    if use_kernels(s):
        return kernels.sigmoid(s=s)
    xp = get_array_module(s)
    e = xp.exp(-xp.abs(s))          # in (0, 1]
    return xp.where(s >= 0, 1 / (1 + e), e / (1 + e))


def softplus(s):
    """log(1 + e^s) = max(s, 0) + log1p(e^{-|s|})."""
    if use_kernels(s):
        return kernels.softplus(s=s)
    xp = get_array_module(s)
    return xp.maximum(s, 0) + xp.log1p(xp.exp(-xp.abs(s)))


def log_sigmoid(s):
    """log sigma(s) = -softplus(-s)."""
    return -softplus(-s)
