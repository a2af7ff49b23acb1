"""Weight initialisers. They create arrays, so they ask the backend (never the inputs).

* ``glorot``  (Glorot & Bengio 2010): U(-a, a), a = sqrt(6 / (fan_in + fan_out)) —
  for tanh/sigmoid MLPs.
* ``he``      (He et al. 2015): N(0, 2 / fan_in) — for ReLU/LeakyReLU MLPs.
* ``normal``  N(0, std^2), std = 0.02 by default — DCGAN (Radford et al. 2016, sec. 4).
* ``uniform`` U(-irange, irange) — pylearn2's ``irange`` (Goodfellow et al. 2014's MNIST
  models: 0.05 in G, 0.005 in D).

Biases start at zero in every scheme.
"""
from __future__ import annotations

import math

from ..backend import DEFAULT_DTYPE, default_rng, get_backend

INITS = ("glorot", "he", "normal", "uniform")


def init_weight(shape, fan_in: int, fan_out: int, init: str = "he", std: float = 0.02,
                rng=None, dtype=DEFAULT_DTYPE, irange: float | None = None):
    """A new weight array of ``shape`` drawn by scheme ``init`` on the current backend
    (``irange``: the half-width of ``"uniform"``, required by it and only by it)."""
    if (init == "uniform") != (irange is not None):
        raise ValueError(f"init_weight: irange goes with init='uniform' (and it needs one), "
                         f"got init={init!r}, irange={irange!r}")
    rng = default_rng() if rng is None else rng
    if init == "glorot":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, size=shape)
    elif init == "he":
        w = rng.standard_normal(size=shape) * math.sqrt(2.0 / fan_in)
    elif init == "normal":
        w = rng.standard_normal(size=shape) * std
    elif init == "uniform":
        if not irange > 0:
            raise ValueError(f"init_weight: irange must be > 0, got {irange}")
        w = rng.uniform(-irange, irange, size=shape)
    else:
        raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
    return w.astype(dtype)


def zeros(shape, dtype=DEFAULT_DTYPE):
    return get_backend().zeros(shape, dtype=dtype)


def ones(shape, dtype=DEFAULT_DTYPE):
    return get_backend().ones(shape, dtype=dtype)
