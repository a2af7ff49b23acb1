"""Numeric gradient checking: central differences in float64.
Derivation of the error bounds: docs/derivations.md, "Numeric gradient checking".

For a scalar function f of arrays x (which f reads when called), the numeric gradient of
each entry is

    n_j = (f(x + h e_j) - f(x - h e_j)) / (2 h)          (error O(h^2))

computed by perturbing x in place and restoring it (CS231n), so the same function can
check a layer's input, its parameters, a loss or the gradient penalty. Agreement is the
relative error

    rel_error(a, n) = max_j |a_j - n_j| / max(max_j (|a_j| + |n_j|), tiny)

a norm-wise form of |a - n| / max(|a| + |n|, tiny): entries whose gradient is ~0 are
judged against the size of the whole gradient, not against round-off. In float64 with
h = 1e-6 a correct derivation gives ~1e-9 or less; the tests demand < 1e-6.

Layers are checked through a vector-Jacobian product: with a fixed random dy,
L(x, theta) = sum(layer.forward(x) * dy), whose gradients are exactly what
``layer.backward(dy)`` returns (dL/dx) and adds into ``layer.grads``.
"""
from __future__ import annotations

import numpy

from tinygan.backend import get_array_module

TINY = 1e-30


def rel_error(analytic, numeric) -> float:
    """max|a - n| / max(max(|a| + |n|), tiny), on the host."""
    xp = get_array_module(analytic, numeric)
    a, n = xp.asarray(analytic), xp.asarray(numeric)
    if a.shape != n.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {n.shape}")
    if a.size == 0:
        return 0.0
    num = float(xp.max(xp.abs(a - n)))
    den = float(xp.max(xp.abs(a) + xp.abs(n)))
    return num / max(den, TINY)


def _require_float64(x, name):
    if x.dtype != numpy.float64:
        raise TypeError(
            f"gradcheck: {name} must be float64 for central differences to be meaningful, "
            f"got {x.dtype} (convert the model with .astype(float64) first)"
        )


def numeric_gradient(f, x, h: float = 1e-6):
    """Central-difference gradient of scalar ``f()`` with respect to array ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored exactly.
    """
    _require_float64(x, "x")
    xp = get_array_module(x)
    if not x.flags.c_contiguous:
        raise ValueError("numeric_gradient: x must be C-contiguous so it can be perturbed in place")
    grad = xp.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for j in range(flat_x.size):
        old = float(flat_x[j])
        flat_x[j] = old + h
        f_plus = float(f())
        flat_x[j] = old - h
        f_minus = float(f())
        flat_x[j] = old
        flat_g[j] = (f_plus - f_minus) / (2 * h)
    return grad


def directional_check(f, x, analytic, h: float = 1e-6, rng=None, n_directions: int = 3) -> float:
    """Check a gradient along random directions u (for tensors too large to do entrywise):

        <analytic, u>  vs  (f(x + h u) - f(x - h u)) / (2 h)

    Returns the largest relative error over ``n_directions`` directions.
    """
    _require_float64(x, "x")
    xp = get_array_module(x)
    rng = xp.random.default_rng(0) if rng is None else rng
    worst = 0.0
    saved = x.copy()
    for _ in range(n_directions):
        u = rng.standard_normal(size=x.shape)
        x[...] = saved + h * u
        f_plus = float(f())
        x[...] = saved - h * u
        f_minus = float(f())
        x[...] = saved
        numeric = (f_plus - f_minus) / (2 * h)
        exact = float(xp.sum(analytic * u))
        worst = max(worst, abs(exact - numeric) / max(abs(exact) + abs(numeric), TINY))
    return worst


def check_gradients(f, arrays: dict, analytic: dict, h: float = 1e-6) -> dict:
    """Relative error of each ``analytic[name]`` against the numeric gradient of scalar
    ``f()`` with respect to ``arrays[name]`` (which f must read when called)."""
    errors = {}
    for name, x in arrays.items():
        numeric = numeric_gradient(f, x, h)
        errors[name] = rel_error(analytic[name], numeric)
    return errors


def check_layer(layer, x, dy=None, h: float = 1e-6, seed: int = 0) -> dict:
    """Check ``layer.backward`` (input and every parameter) at input ``x``.

    Uses L = sum(layer.forward(x) * dy) with a fixed random ``dy`` (or the one given).
    Returns ``{"x": err, "<param>": err, ...}``. The layer must be float64 already.
    """
    _require_float64(x, "x")
    xp = get_array_module(x)
    layer.zero_grad()
    y = layer.forward(x)
    if dy is None:
        dy = xp.random.default_rng(seed).standard_normal(size=y.shape)
    dx = layer.backward(dy)
    analytic = {"x": dx}
    arrays = {"x": x}
    for name, param, grad in _named_params(layer):
        analytic[name] = grad.copy()
        arrays[name] = param

    def loss():
        return xp.sum(layer.forward(x) * dy)

    return check_gradients(loss, arrays, analytic, h)


def _named_params(layer):
    if hasattr(layer, "named_parameters"):
        return layer.named_parameters()
    return [(k, layer.params[k], layer.grads[k]) for k in layer.params]


def check_jvp(layer, x, x_dot, h: float = 1e-6) -> float:
    """Check the forward tangent: layer.jvp(x_dot) vs (f(x + h x_dot) - f(x - h x_dot)) / 2h."""
    _require_float64(x, "x")
    layer.forward(x)
    y_dot = layer.jvp(x_dot)
    numeric = (layer.forward(x + h * x_dot) - layer.forward(x - h * x_dot)) / (2 * h)
    layer.forward(x)  # leave the cache at x
    return rel_error(y_dot, numeric)


def check_jvp_backward(layer, x, x_dot, dy=None, dy_dot=None, h: float = 1e-6,
                       seed: int = 0) -> dict:
    """Check the reverse pass through (y, y_dot): ``layer.jvp_backward(dy, dy_dot)``.

    It must give the gradients of S = sum(dy * f(x)) + sum(dy_dot * J_f(x) x_dot) with
    respect to x (``"x"``), x_dot (``"x_dot"``) and every parameter (added into grads);
    all are compared with central differences of S. Random dy, dy_dot unless given.
    Returns ``{"x": err, "x_dot": err, "<param>": err, ...}``.
    """
    _require_float64(x, "x")
    xp = get_array_module(x)
    y = layer.forward(x)
    rng = xp.random.default_rng(seed)
    dy = rng.standard_normal(size=y.shape) if dy is None else dy
    dy_dot = rng.standard_normal(size=y.shape) if dy_dot is None else dy_dot

    def scalar():
        out = layer.forward(x)
        return xp.sum(dy * out) + xp.sum(dy_dot * layer.jvp(x_dot))

    layer.zero_grad()
    layer.forward(x)
    layer.jvp(x_dot)
    dx, dx_dot = layer.jvp_backward(dy, dy_dot)
    analytic, arrays = {"x": dx, "x_dot": dx_dot}, {"x": x, "x_dot": x_dot}
    for name, param, grad in _named_params(layer):
        analytic[name] = grad.copy()
        arrays[name] = param
    return check_gradients(scalar, arrays, analytic, h)


def assert_close(errors, tol: float = 1e-6):
    """Raise AssertionError naming every gradient whose relative error is >= tol."""
    if isinstance(errors, dict):
        bad = {k: v for k, v in errors.items() if not v < tol}
    else:
        bad = {"value": errors} if not errors < tol else {}
    if bad:
        raise AssertionError(
            "gradient check failed (relative error >= %g): %s"
            % (tol, ", ".join(f"{k}={v:.3e}" for k, v in bad.items()))
        )
