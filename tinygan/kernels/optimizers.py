"""Fused optimiser updates (docs/derivations.md, "Optimisers"): one kernel per
parameter array instead of up to 13, updating theta and the state in place.

The bodies follow the operation order of ``tinygan/optim.py``'s NumPy path, and take
the scalars that path uses (1 - b1 and friends computed once on the host, in double
precision, then cast to T), so the two agree to rounding.
"""
from __future__ import annotations

import numpy

from .elementwise import ElementwiseOp


def _state(rng, dtype, positive=False):
    a = rng.standard_normal((5, 11)).astype(dtype)
    return numpy.abs(a) if positive else a


def _cast(dtype, *scalars):
    return [dtype.type(s) for s in scalars]


def _sgd_reference(g, lr, p):
    lr, = _cast(p.dtype, lr)
    return p - g * lr


def _momentum_reference(g, lr, mu, p, v):
    lr, mu = _cast(p.dtype, lr, mu)
    v = v * mu - g * lr
    return p + v, v


def _nesterov_reference(g, lr, mu, p, v):
    lr, mu = _cast(p.dtype, lr, mu)
    v = v * mu - g * lr
    return (p - g * lr) + v * mu, v


def _sgd_example(rng, dtype, momentum=True):
    dtype = numpy.dtype(dtype)
    case = {"g": _state(rng, dtype), "lr": 0.1, "p": _state(rng, dtype)}
    if momentum:
        case.update(mu=0.9, v=_state(rng, dtype))
    return [case]


sgd = ElementwiseOp(
    "sgd", "T g", "T lr", "T p",
    "p -= g * lr;",
    reference=_sgd_reference,
    example=lambda rng, dtype: _sgd_example(rng, dtype, momentum=False),
    doc="theta <- theta - lr g")

sgd_momentum = ElementwiseOp(
    "sgd_momentum", "T g", "T lr, T mu", "T p, T v",
    """
    v = v * mu - g * lr;                   // v <- mu v - lr g
    p += v;                                // theta <- theta + v
    """,
    reference=_momentum_reference,
    example=_sgd_example,
    doc="v <- mu v - lr g;  theta <- theta + v")

sgd_nesterov = ElementwiseOp(
    "sgd_nesterov", "T g", "T lr, T mu", "T p, T v",
    """
    v = v * mu - g * lr;                   // v <- mu v - lr g
    p = (p - g * lr) + v * mu;             // theta <- theta - lr g + mu v
    """,
    reference=_nesterov_reference,
    example=_sgd_example,
    doc="v <- mu v - lr g;  theta <- theta - lr g + mu v (the new v)")


def _rmsprop_reference(g, alpha, one_minus_alpha, lr, eps, p, r):
    alpha, one_minus_alpha, lr, eps = _cast(p.dtype, alpha, one_minus_alpha, lr, eps)
    r = r * alpha + (g * g) * one_minus_alpha
    return p - (g / (numpy.sqrt(r) + eps)) * lr, r


rmsprop = ElementwiseOp(
    "rmsprop", "T g", "T alpha, T one_minus_alpha, T lr, T eps", "T p, T r",
    """
    r = r * alpha + (g * g) * one_minus_alpha;   // r <- alpha r + (1 - alpha) g^2
    p -= (g / (sqrt(r) + eps)) * lr;             // theta <- theta - lr g / (sqrt(r) + eps)
    """,
    reference=_rmsprop_reference,
    example=lambda rng, dtype: [{
        "g": _state(rng, numpy.dtype(dtype)), "alpha": 0.99, "one_minus_alpha": 1 - 0.99,
        "lr": 5e-5, "eps": 1e-8, "p": _state(rng, numpy.dtype(dtype)),
        "r": _state(rng, numpy.dtype(dtype), positive=True)}],
    doc="r <- alpha r + (1 - alpha) g^2;  theta <- theta - lr g / (sqrt(r) + eps)")


def _adam_reference(g, b1, one_minus_b1, b2, one_minus_b2, eps, step_size, bias2, p, m, v):
    b1, one_minus_b1, b2, one_minus_b2, eps, step_size, bias2 = _cast(
        p.dtype, b1, one_minus_b1, b2, one_minus_b2, eps, step_size, bias2)
    m = m * b1 + g * one_minus_b1
    v = v * b2 + (g * g) * one_minus_b2
    return p - (m / (numpy.sqrt(v / bias2) + eps)) * step_size, m, v


def _adam_example(rng, dtype):
    dtype = numpy.dtype(dtype)
    cases = []
    for t, (b1, b2) in ((1, (0.5, 0.999)), (7, (0.0, 0.9))):
        cases.append({
            "g": _state(rng, dtype), "b1": b1, "one_minus_b1": 1 - b1, "b2": b2,
            "one_minus_b2": 1 - b2, "eps": 1e-8, "step_size": 2e-4 / (1 - b1 ** t),
            "bias2": 1 - b2 ** t, "p": _state(rng, dtype), "m": _state(rng, dtype),
            "v": _state(rng, dtype, positive=True)})
    return cases


adam = ElementwiseOp(
    "adam", "T g",
    "T b1, T one_minus_b1, T b2, T one_minus_b2, T eps, T step_size, T bias2",
    "T p, T m, T v",
    """
    m = m * b1 + g * one_minus_b1;               // m <- b1 m + (1 - b1) g
    v = v * b2 + (g * g) * one_minus_b2;         // v <- b2 v + (1 - b2) g^2
    p -= (m / (sqrt(v / bias2) + eps)) * step_size;
    """,
    reference=_adam_reference,
    example=_adam_example,
    doc="m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;\n"
        "theta <- theta - step_size m / (sqrt(v / bias2) + eps), with\n"
        "step_size = lr / (1 - b1^t) and bias2 = 1 - b2^t (Kingma & Ba, Alg. 1)")
