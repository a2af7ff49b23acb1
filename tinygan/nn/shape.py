"""Reshaping layers. They move no numbers, so every derivative is the inverse reshape:

    forward   y = reshape(x)             backward      dx = reshape^{-1}(dy)
    jvp       y_dot = reshape(x_dot)     jvp_backward  (reshape^{-1}(dy), reshape^{-1}(dy_dot))

Derivation: docs/derivations.md, "Reshaping".
"""
from __future__ import annotations

import math

from .base import Layer


class _Reshaping(Layer):
    def _target(self, x):
        raise NotImplementedError

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self._target(x))

    __call__ = forward

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        return dy.reshape(self.in_shape) if need_dx else None

    def jvp(self, x_dot):
        return x_dot.reshape(self._target(x_dot))

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        if not need_dx:
            return None, None
        dx = None if dy is None else dy.reshape(self.in_shape)  # None: zero stays zero
        return dx, dy_dot.reshape(self.in_shape)


class Flatten(_Reshaping):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); e.g. (N, C, H, W) -> (N, C H W)."""

    def _target(self, x):
        if x.ndim < 2:
            raise ValueError(f"Flatten: expected input with a batch axis (N, ...), got {tuple(x.shape)}")
        return (x.shape[0], -1)


class Reshape(_Reshaping):
    """(N, ...) -> (N, *shape); e.g. Reshape((1, 28, 28)) turns (N, 784) into images."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def _target(self, x):
        if math.prod(x.shape[1:]) != math.prod(self.shape):
            raise ValueError(
                f"Reshape{self.shape}: expected {math.prod(self.shape)} values per sample, "
                f"got input of shape {tuple(x.shape)}"
            )
        return (x.shape[0],) + self.shape

    def extra_repr(self):
        return f"{self.shape}"
