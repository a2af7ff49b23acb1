"""Dropout on a layer's input, with pylearn2's parameters. Derivation: docs/derivations.md,
"Dropout".

pylearn2 (``MLP.dropout_fprop`` / ``apply_dropout``) keeps each input unit with
probability ``include_prob`` and multiplies the kept ones by ``scale``; at test time the
input passes unchanged. With scale = 1 / include_prob (the default here) the expected
training input equals the test input ("inverted" dropout). Goodfellow et al. 2014's MNIST
discriminator: include_prob 0.8 and scale 1.25 on its input, 0.5 and 2 on the others.
"""
from __future__ import annotations

import numpy  # the checkpointed draw counter

from .. import checks
from ..backend import derived_seed, make_rng
from .base import Layer


class Dropout(Layer):
    """y = x * r * scale with r_ij ~ Bernoulli(include_prob), drawn afresh at each
    training forward, one independent draw per entry (per example and unit); in eval mode
    y = x.

    With the mask fixed (R = r * scale, the cached array) the layer is linear and diagonal:

        forward        y      = R * x                      (any shape; R has x's shape)
        backward       dx     = R * dy
        jvp            y_dot  = R * x_dot
        jvp_backward   dx     = R * dy,  dx_dot = R * dy_dot     (no second-order term)

    The backward passes use the mask of the last forward, so a gradient is exact for the
    network that made that forward (the dropped-out one): that is the function SGD with
    dropout descends.

    Reproducible and resumable: the mask of the n-th training forward comes from a
    generator seeded by (seed, n); n is the layer's state (``draws``), saved in checkpoints
    with the parameters, so a resumed run draws the masks the uninterrupted one would.
    Layers of one model need distinct seeds (``models.goodfellow_discriminator`` gives
    each its own).
    """

    def __init__(self, include_prob: float, scale: float | None = None, seed: int = 0):
        super().__init__()
        self.include_prob = checks.real(include_prob, "include_prob", "Dropout", low=0.0,
                                        high=1.0, open_low=True)
        self.scale = checks.positive(1.0 / self.include_prob if scale is None else scale, "scale",
                                     "Dropout")
        self.seed = checks.integer(seed, "seed", "Dropout", low=0)
        self.draws = 0          # training forwards so far (masks drawn)
        self.R = None           # r * scale of the last forward (None: identity, eval mode)

    def _draw_mask(self, x):
        """R = r * scale, r ~ Bernoulli(include_prob), x's shape, dtype and device."""
        seed = derived_seed(self.seed, self.draws)
        self.draws += 1
        keep = make_rng(seed).random(x.shape, dtype=x.dtype) < self.include_prob
        R = keep.astype(x.dtype)
        R *= self.scale
        return R

    def forward(self, x):
        if not self.training or (self.include_prob == 1 and self.scale == 1):
            self.R = None
            return x
        self.R = self._draw_mask(x)
        return x * self.R

    __call__ = forward

    def _apply_mask(self, g):
        if g is None or self.R is None:
            return g
        if tuple(g.shape) != tuple(self.R.shape):
            raise ValueError(f"Dropout: expected a gradient of shape {tuple(self.R.shape)} "
                             f"(the last forward's input), got {tuple(g.shape)}")
        return g * self.R

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        return self._apply_mask(dy) if need_dx else None

    def jvp(self, x_dot):
        return self._apply_mask(x_dot)

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        if not need_dx:
            return None, None
        return self._apply_mask(dy), self._apply_mask(dy_dot)

    # the draw counter is state (not a parameter): checkpointed, never converted by astype
    def state_dict(self, prefix: str = ""):
        return {prefix + "draws": numpy.asarray(self.draws, dtype=numpy.int64)}

    def load_state_dict(self, state, prefix: str = ""):
        key = prefix + "draws"
        if key not in state:
            raise KeyError(f"state is missing {key!r}")
        self.draws = checks.integer(numpy.asarray(state[key]).item(), key, "Dropout", low=0)

    def extra_repr(self):
        return f"include_prob={self.include_prob}, scale={self.scale}, seed={self.seed}"
