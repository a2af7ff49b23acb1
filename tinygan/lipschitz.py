"""Keeping a WGAN critic (approximately) 1-Lipschitz.

* :func:`clip_weights`      weight clipping (Arjovsky et al. 2017, Alg. 1, line 7):
                            w <- clip(w, -c, c) after every critic update.
* :func:`interpolate`       x_hat = eps x + (1 - eps) x_fake, eps ~ U[0, 1] per sample
                            (Gulrajani et al. 2017, Alg. 1, lines 5-7).
* :func:`input_gradient`    g_i = grad_x f(x_i), one gradient per sample.
* :func:`gradient_penalty`  P = lam/m sum_i (||g_i||_2 - 1)^2 at x_hat, its value and,
                            added into the critic's grads, its exact parameter gradient
                            by double backprop (reverse-over-forward through the layers'
                            ``jvp`` / ``jvp_backward`` pair).

Derivations: docs/derivations.md, "Weight clipping" and "The gradient penalty by double
backprop". Nothing here moves data between host and device: every result is an array.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy

from . import checks
from .backend import default_rng, get_array_module
from .nn.base import Layer, PenaltyIncompatibleError

__all__ = ["clip_weights", "interpolate", "input_gradient", "gradient_penalty",
           "GradientPenalty"]


# ---------------------------------------------------------------------------------
# Weight clipping
# ---------------------------------------------------------------------------------
def clip_weights(model, c: float):
    """w <- clip(w, -c, c) for every parameter of ``model``, in place; returns ``model``.

    Arjovsky et al. 2017, Alg. 1 (c = 0.01): clipping keeps the critic's parameters in
    a compact set, so f_w is K-Lipschitz for some K depending on c and the architecture
    (not on w). Every parameter is clipped, as in the authors' code (biases and any
    normalisation scales included). Optimisers stay bound: the arrays are not replaced.
    """
    c = checks.positive(c, "the clipping bound c", "clip_weights")
    for param, _ in model.parameters():
        get_array_module(param).clip(param, -c, c, out=param)
    return model


# ---------------------------------------------------------------------------------
# Random interpolates
# ---------------------------------------------------------------------------------
def interpolate(x_real, x_fake, rng=None):
    """x_hat = eps x + (1 - eps) x_fake with eps ~ U[0, 1], one eps per sample.

    Shapes: x_real, x_fake (m, ...) e.g. (m, d) or (m, C, H, W), same dtype;
    eps (m, 1, ..., 1) (broadcasts over a sample's dimensions), x_hat like x_real.
    Each x_hat_i lies on the segment between x_i and G(z_i) (Gulrajani et al. 2017,
    sec. 4: the penalty is enforced along such straight lines).

    ``rng``: a generator of the arrays' backend (``xp.random.default_rng``); by default
    the backend's seeded generator. Returns ``(x_hat, eps)``, both of x_real's dtype.
    """
    xp = get_array_module(x_real, x_fake)
    if x_real.shape != x_fake.shape:
        raise ValueError(
            f"interpolate: x_real and x_fake must have the same shape (m, ...), got "
            f"{tuple(x_real.shape)} and {tuple(x_fake.shape)}")
    if x_real.dtype != x_fake.dtype:
        raise TypeError(
            f"interpolate: x_real and x_fake must have the same dtype, got {x_real.dtype} "
            f"and {x_fake.dtype} (no silent promotion)")
    checks.float_dtype(x_real.dtype, "interpolate")
    if x_real.ndim < 1 or x_real.shape[0] < 1:
        raise ValueError(f"interpolate: expected a batch (m, ...) with m >= 1, got shape "
                         f"{tuple(x_real.shape)}")
    rng = default_rng() if rng is None else rng
    eps = rng.random((x_real.shape[0],) + (1,) * (x_real.ndim - 1), dtype=x_real.dtype)
    if get_array_module(eps) is not xp:
        raise TypeError(
            f"interpolate: rng draws {get_array_module(eps).__name__} arrays but the "
            f"batch lives in {xp.__name__}; pass a generator of the same backend")
    return eps * x_real + (1 - eps) * x_fake, eps


# ---------------------------------------------------------------------------------
# Input gradient
# ---------------------------------------------------------------------------------
def _scores(critic, x):
    """s = f(x), checked to be one score per sample: shape (m,) or (m, 1)."""
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"expected a non-empty batch of critic inputs (m, ...) with m >= 1 and a "
                         f"feature axis, got shape {tuple(x.shape)}")
    checks.float_dtype(x.dtype, "critic input")
    s = critic.forward(x)
    if s.shape[0] != x.shape[0] or s.size != x.shape[0]:
        raise ValueError(
            f"the critic must output one score per sample, shape (m, 1) with m = "
            f"{x.shape[0]}; got {tuple(s.shape)}")
    return s


def input_gradient(critic, x):
    """g = grad_x sum_i f(x_i): row i is g_i = grad_x f(x_i), shape (m, ...) like x.

    Because each score f(x_i) depends on x_i alone (no sample-mixing layer in training
    mode), the gradient of the sum splits into the per-sample input gradients. One
    forward, then ``backward(ones, param_grads=False)``: the critic's grads are left
    untouched; its caches now hold the point x.
    """
    s = _scores(critic, x)
    return critic.backward(get_array_module(s).ones_like(s), param_grads=False)


# ---------------------------------------------------------------------------------
# Gradient penalty by double backprop
# ---------------------------------------------------------------------------------
class GradientPenalty(NamedTuple):
    """Result of :func:`gradient_penalty` (both 0-d arrays of x_hat's dtype, on its device)."""

    value: object           #: P = lam * mean_i (||g_i|| - 1)^2  (or the one-sided form)
    grad_norm_mean: object  #: mean_i ||g_i||, for monitoring how Lipschitz the critic is


def _leaf_layers(layer, path="critic"):
    """Yield (path, layer) for every leaf layer, descending into containers (Sequential)."""
    children = layer.children() if isinstance(layer, Layer) else []
    if not children:
        yield path, layer
    for i, child in enumerate(children):
        yield from _leaf_layers(child, f"{path}[{i}]")


def _check_second_order(critic):
    """Raise PenaltyIncompatibleError naming the first layer that cannot take part."""
    for path, layer in _leaf_layers(critic):
        if getattr(layer, "mixes_samples", False):
            raise PenaltyIncompatibleError(
                f"gradient_penalty: {path} = {layer!r} mixes the samples of a batch "
                "(mixes_samples, e.g. BatchNorm), so grad_x f(x_hat_i) is not a "
                "per-sample gradient and the penalty is ill-defined; build the critic "
                "without batch normalisation (Gulrajani et al. 2017, sec. 4)")
        # a Layer must override both methods; anything else must at least have them
        has_pair = all(hasattr(layer, name) and getattr(type(layer), name, None)
                       is not getattr(Layer, name) for name in ("jvp", "jvp_backward"))
        if not has_pair:
            raise PenaltyIncompatibleError(
                f"gradient_penalty: {path} = {layer!r} has no second-order pair "
                "(jvp / jvp_backward), needed for the double backprop")


def gradient_penalty(critic, x_hat, lam: float = 10.0, one_sided: bool = False, mask=None):
    """WGAN-GP penalty P at x_hat; ADDS exactly dP/dtheta into ``critic.grads``.

    Shapes: x_hat (m, ...) e.g. (m, d) or (m, C, H, W); s = f(x_hat) (m, 1);
    g, dg like x_hat; ||g|| (m,). theta = every parameter of the critic.

        g_i  = grad_x f(x_hat_i)                                   (first order)
        P    = lam/m sum_i (||g_i||_2 - 1)^2                       (Gulrajani et al. 2017, eq. 3)
             = lam/m sum_i max(0, ||g_i||_2 - 1)^2                 (one_sided: Petzka et al. 2018)

    ||g_i|| runs over all of a sample's dimensions (only the components where ``mask``
    is 1 when a mask is given: a conditional critic's label input is then left free).

    Its parameter gradient by double backprop (docs/derivations.md, "The gradient
    penalty by double backprop"): with the cotangent of g

        dg_i = dP/dg_i = (2 lam / m) (||g_i|| - 1) g_i / ||g_i||   (dg_i = 0 where ||g_i|| = 0;
                                                                    one-sided: max(0, .))
        dP/dtheta = J_g^T dg = grad_theta sum_i J_f(x_hat_i) dg_i    (dg held fixed)

    since g_i . dg_i = J_f(x_hat_i) dg_i (f is scalar). The right side is the parameter
    gradient of the directional derivative of f along dg (the lemma of that section):

        1. s = f(x_hat); g = backward(ones, param_grads=False)      grads untouched
        2. dg from g (elementwise, no host sync)
        3. s_dot = critic.jvp(dg)           tangent pass: a_dot = x_dot W, y_dot = phi'(a) a_dot
        4. critic.jvp_backward(None, ones, need_dx=False)
                                            reverse pass through (s, s_dot) of Q = sum_i s_dot_i:
                                            adds dW += x^T dy + x_dot^T dy_dot per affine layer
                                            (AffineLayer.jvp_backward, nn/affine.py),
                                            with the phi''(a) a_dot dy_dot terms of activations;
                                            dy = None is the exact zero seed (Q has no s term),
                                            so products with it are skipped until the first
                                            phi'' != 0, and the first layer's dx, dx_dot (with
                                            respect to the constants x_hat, dg) are not formed

    Cost: matrix products per affine layer, in units of one m-row product: 1 + 1 + 1 + 4
    (forward, input gradient, tangent, reverse pass), of which the reverse pass skips
    x^T dy and A_W^T dy while dy = 0 (above the top-most phi'' != 0: everywhere in a
    ReLU/LeakyReLU critic) and the first layer's two input products.

    What was already in ``critic.grads`` is kept (+=), so the caller may accumulate the
    Wasserstein loss gradient before or after. Every layer must implement the
    second-order pair; a layer that mixes samples (BatchNorm) or lacks the pair raises
    ``PenaltyIncompatibleError`` (a TypeError) before anything is computed.

    Returns ``GradientPenalty(value, grad_norm_mean)``, 0-d arrays of x_hat's dtype.
    """
    lam = checks.real(lam, "lam", "gradient_penalty", low=0.0)
    _check_second_order(critic)
    xp = get_array_module(x_hat)
    if mask is not None:
        mask = _as_mask(mask, x_hat, xp)

    # 1. g_i = grad_x f(x_hat_i), (m, ...)
    g = input_gradient(critic, x_hat)
    m = g.shape[0]
    if mask is not None:
        g = g * mask                        # only the masked components count in ||g||

    # 2. ||g_i|| and the cotangent dg_i = dP/dg_i
    norm = xp.sqrt(xp.sum((g * g).reshape(m, -1), axis=1))          # (m,)
    excess = norm - 1
    if one_sided:
        excess = xp.maximum(excess, 0)
    value = xp.asarray(lam * xp.mean(excess * excess))
    # ||g_i|| = 0 only where g_i = 0 (up to underflow): divide by 1 there, so dg_i = 0
    # instead of 0/0. (||g|| - 1)^2 is not differentiable at g = 0 (a local maximum, so
    # no convex subgradient exists); 0 lies in its Clarke generalised gradient, and is
    # the exact gradient when g_i = 0 on a neighbourhood (a dead ReLU sample).
    safe_norm = xp.where(norm > 0, norm, xp.ones_like(norm))
    coef = (2 * lam / m) * excess / safe_norm                        # (m,)
    g *= coef.reshape((m,) + (1,) * (g.ndim - 1))   # g is our own array: dg written over it
    dg = g                                          # (m, ...) like x_hat

    # 3.-4. dP/dtheta = grad_theta sum_i J_f(x_hat_i) dg_i (caches still hold x_hat)
    s_dot = critic.jvp(dg)
    critic.jvp_backward(None, xp.ones_like(s_dot), need_dx=False)
    return GradientPenalty(value, xp.asarray(xp.mean(norm)))


def _as_mask(mask, x_hat, xp):
    """The 0/1 mask as an array of x_hat's dtype and device, broadcastable to x_hat."""
    if get_array_module(mask) is not xp:
        raise TypeError(
            f"gradient_penalty: mask lives in {get_array_module(mask).__name__} but x_hat in "
            f"{xp.__name__}; create the mask on the same device")
    try:
        shape = numpy.broadcast_shapes(tuple(mask.shape), tuple(x_hat.shape))
    except ValueError:
        shape = None
    if shape != tuple(x_hat.shape):
        raise ValueError(
            f"gradient_penalty: mask of shape {tuple(mask.shape)} does not broadcast to x_hat's "
            f"shape {tuple(x_hat.shape)}; expected 0/1 entries selecting input components "
            "(e.g. shape (1, d) for an MLP critic)")
    return mask if mask.dtype == x_hat.dtype else mask.astype(x_hat.dtype)
