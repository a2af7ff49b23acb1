"""The optimal discriminator of two known 1-D densities, and the value of the game.

Goodfellow et al. 2014, Prop. 1 and Thm. 1 (docs/derivations.md, "The optimal
discriminator"): for a fixed G with density p_g, V(D, G) = E_data[log D] + E_g[log(1 - D)]
is maximised pointwise by

    D*(x) = p_data(x) / (p_data(x) + p_g(x)),
    V(D*, G) = -log 4 + 2 JS(p_data || p_g).

Everything here is exact arithmetic on a grid x (n,), increasing, that carries almost all
of both densities; integrals are trapezoid sums. Arrays may be NumPy or CuPy; results are
Python floats (or arrays like x).
"""
from __future__ import annotations

import math

from .backend import get_array_module
from .nn.functional import softplus

__all__ = ["gaussian_density", "optimal_discriminator", "js_divergence",
           "game_value", "integrate"]


def _check_grid(x, where):
    if getattr(x, "ndim", None) != 1 or x.shape[0] < 2:
        raise ValueError(f"{where}: expected a 1-D grid x of at least 2 points, got shape "
                         f"{getattr(x, 'shape', None)}")
    xp = get_array_module(x)
    if not bool(xp.all(x[1:] > x[:-1])):
        raise ValueError(f"{where}: the grid x must be strictly increasing")


def _check_like(a, x, name, where):
    if tuple(getattr(a, "shape", ())) != tuple(x.shape):
        raise ValueError(f"{where}: {name} must have the grid's shape {tuple(x.shape)}, got "
                         f"{tuple(getattr(a, 'shape', ()))}")


def integrate(f, x) -> float:
    """Trapezoid rule: sum_i (f_i + f_{i+1}) / 2 (x_{i+1} - x_i)."""
    _check_grid(x, "integrate")
    _check_like(f, x, "f", "integrate")
    xp = get_array_module(f, x)
    return float(xp.sum((f[1:] + f[:-1]) * (x[1:] - x[:-1])) / 2)


def gaussian_density(x, mean: float, std: float):
    """N(mean, std^2) density at x: exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))."""
    if not std > 0:
        raise ValueError(f"gaussian_density: std must be > 0, got {std!r}")
    xp = get_array_module(x)
    u = (x - mean) / std
    return xp.exp(-0.5 * u * u) / (std * math.sqrt(2 * math.pi))


def optimal_discriminator(p_data, p_g):
    """D*(x) = p_data / (p_data + p_g) (Prop. 1); 1/2 where both densities are 0."""
    xp = get_array_module(p_data, p_g)
    total = p_data + p_g
    return xp.where(total > 0, p_data / xp.where(total > 0, total, 1), 0.5)


def _plogp_ratio(p, q):
    """p log(2p / (p + q)) with 0 log 0 = 0 (the integrand of KL(p || (p+q)/2))."""
    xp = get_array_module(p, q)
    positive = p > 0
    safe_p = xp.where(positive, p, 1)
    return xp.where(positive, p * xp.log(2 * safe_p / (safe_p + q)), 0)


def js_divergence(p, q, x) -> float:
    """JS(p || q) = 1/2 KL(p || M) + 1/2 KL(q || M), M = (p + q)/2, by quadrature on x.

    In nats: 0 for p = q, log 2 for disjoint supports."""
    _check_grid(x, "js_divergence")
    _check_like(p, x, "p", "js_divergence")
    _check_like(q, x, "q", "js_divergence")
    return 0.5 * integrate(_plogp_ratio(p, q) + _plogp_ratio(q, p), x)


def game_value(s, p_data, p_g, x) -> float:
    """V(D, G) = int p_data log D + p_g log(1 - D) dx for D = sigma(s), by quadrature.

    Taken from the logits s (n,): log sigma(s) = -softplus(-s), log(1 - sigma(s)) =
    -softplus(s), so a saturated D (|s| large) gives finite terms."""
    _check_grid(x, "game_value")
    for a, name in ((s, "s"), (p_data, "p_data"), (p_g, "p_g")):
        _check_like(a, x, name, "game_value")
    return integrate(-p_data * softplus(-s) - p_g * softplus(s), x)
