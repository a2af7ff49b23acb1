"""Maxout (Goodfellow et al. 2013). Derivation: docs/derivations.md, "Maxout".

Shapes: a (m, units * pieces) -> y (m, units). Unit j takes the maximum of its pieces,
the ``pieces`` adjacent columns j*pieces, ..., j*pieces + pieces - 1 of a, the grouping of
pylearn2's ``Maxout`` layer (pool_stride = num_pieces). pylearn2's layer holds its own
affine map; in tinygan that is a ``Linear(n_in, units * pieces)`` in front of this one.
"""
from __future__ import annotations

from .. import checks
from ..backend import get_array_module
from .base import Layer


class Maxout(Layer):
    """y_{ij} = max_k a_{i,j,k}, with a viewed as (m, units, pieces).

    Let k*(i, j) = argmax_k a_{i,j,k} (the first one on ties) and M the 0/1 mask that is 1
    exactly at (i, j, k*). The max is piecewise linear, so (almost everywhere)

        forward        y      = sum_k M a                 (m, units)
        backward       da     = M dy                      (m, units, pieces) -> (m, units*pieces)
        jvp            y_dot  = sum_k M a_dot
        jvp_backward   da     = M dy,  da_dot = M dy_dot  (no second-order term: the
                                                           pieces are linear, M is locally constant)

    At a tie the derivative does not exist; the gradient then flows to the first maximal
    piece (a subgradient), as argmax does in pylearn2/Theano.
    """

    def __init__(self, units: int, pieces: int):
        super().__init__()
        self.units = checks.integer(units, "units", "Maxout", low=1)
        self.pieces = checks.integer(pieces, "pieces", "Maxout", low=1)

    def _grouped(self, a, what="input"):
        want = self.units * self.pieces
        if a.ndim != 2 or a.shape[1] != want:
            raise ValueError(f"Maxout({self.units}, {self.pieces}): expected {what} of shape "
                             f"(m, {want}) = (m, units * pieces), got {tuple(a.shape)}")
        return a.reshape(a.shape[0], self.units, self.pieces)

    def forward(self, a):
        xp = get_array_module(a)
        a3 = self._grouped(a)
        k_star = a3.argmax(axis=2)                                    # (m, units)
        self.mask = k_star[:, :, None] == xp.arange(self.pieces)      # M, bool (m, units, pieces)
        return a3.max(axis=2)

    __call__ = forward

    def _scatter(self, dy):
        """M dy, back in a's layout (m, units * pieces)."""
        if tuple(dy.shape) != tuple(self.mask.shape[:2]):
            raise ValueError(f"Maxout: expected an upstream gradient of shape "
                             f"{tuple(self.mask.shape[:2])}, got {tuple(dy.shape)}")
        return (self.mask * dy[:, :, None]).reshape(dy.shape[0], -1)

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        return self._scatter(dy) if need_dx else None

    def jvp(self, a_dot):
        return (self._grouped(a_dot, "tangent") * self.mask).sum(axis=2)

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        if not need_dx:
            return None, None
        return (None if dy is None else self._scatter(dy)), self._scatter(dy_dot)

    def extra_repr(self):
        return f"units={self.units}, pieces={self.pieces}"
