"""Checks for tinygan.lipschitz: weight clipping, interpolates, the input gradient and
the gradient penalty's double backprop.

The penalty's parameter gradient (second order) is checked against central
differences of P(theta) computed by FIRST-ORDER code only:

    P(theta) = lam * mean_i (||input_gradient(critic, x_hat)_i|| - 1)^2

so the reference shares nothing with jvp / jvp_backward.
"""
import math

import numpy
import pytest

from tinygan import nn
from tinygan.backend import get_array_module
from gradcheck import assert_close, check_gradients, rel_error
from test_maxout_dropout import FixedMaskDropout
from tinygan.lipschitz import (GradientPenalty, clip_weights,
                               gradient_penalty, input_gradient, interpolate)

ACTIVATIONS = [nn.ReLU, lambda: nn.LeakyReLU(0.2), nn.Tanh, nn.Sigmoid, nn.Softplus]
ACT_IDS = ["relu", "leakyrelu", "tanh", "sigmoid", "softplus"]


# --- helpers ------------------------------------------------------------------------
def _leaves(layer):
    if hasattr(layer, "layers"):
        return [leaf for child in layer.layers for leaf in _leaves(child)]
    return [layer]


def _mlp_critic(make_act, rng, sizes=(5, 7, 4, 1), dtype=numpy.float64):
    """Linear-act-Linear-act-Linear critic (3 affine layers) with random biases too."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out, init="glorot", rng=rng))
        if i < len(sizes) - 2:
            layers.append(make_act())
    critic = nn.Sequential(*layers).astype(dtype)
    for layer in critic.layers:
        if "b" in layer.params:
            layer.params["b"][...] = 0.3 * rng.standard_normal(layer.params["b"].shape)
    return critic


def _kink_margin(critic, x):
    """Smallest |a| entering a ReLU/LeakyReLU (inf if there is none)."""
    critic.forward(x)
    margins = [float(abs(layer.a).min()) for layer in _leaves(critic)
               if isinstance(layer, (nn.ReLU, nn.LeakyReLU))]
    return min(margins, default=math.inf)


def _inputs_away_from_kinks(critic, rng, shape, margin=1e-3):
    """Draw x_hat until every ReLU-type pre-activation has |a| > margin: parameter
    perturbations of 1e-6 then never cross a kink, where finite differences of the
    piecewise-smooth penalty would be wrong rather than the derivation."""
    for _ in range(50):
        x = rng.standard_normal(shape)
        if _kink_margin(critic, x) > margin:
            return x
    raise AssertionError("could not draw inputs away from the ReLU kinks")


def _penalty_first_order(critic, x_hat, lam=10.0, one_sided=False, mask=None):
    """P by first-order code only (the reference the double backprop must match)."""
    xp = get_array_module(x_hat)
    g = input_gradient(critic, x_hat)
    if mask is not None:
        g = g * mask
    norm = xp.sqrt(xp.sum((g * g).reshape(g.shape[0], -1), axis=1))
    excess = xp.maximum(norm - 1, 0) if one_sided else norm - 1
    return lam * xp.mean(excess * excess)


def _check_penalty(critic, x_hat, tol=1e-6, **kwargs):
    """gradient_penalty's value and every dP/dtheta vs central differences of P(theta)."""
    xp = get_array_module(x_hat)
    critic.zero_grad()
    result = gradient_penalty(critic, x_hat, **kwargs)
    reference = _penalty_first_order(critic, x_hat, **kwargs)
    assert rel_error(result.value, reference) < 1e-12
    arrays = {name: p for name, p, _ in critic.named_parameters()}
    analytic = {name: g.copy() for name, _, g in critic.named_parameters()}
    errors = check_gradients(lambda: _penalty_first_order(critic, x_hat, **kwargs),
                             arrays, analytic)
    assert_close(errors, tol)
    # the check must be able to fail: the gradient is not identically zero
    assert max(float(xp.abs(g).max()) for g in analytic.values()) > 1e-3
    return result


def _scale_to_unit_median_norm(critic, x_hat):
    """Scale the last layer so that the median ||g_i|| is 1: some samples then lie on
    each side of the one-sided penalty's threshold."""
    xp = get_array_module(x_hat)
    g = input_gradient(critic, x_hat)
    norm = xp.sqrt(xp.sum(g * g, axis=1))
    critic.layers[-1].params["W"][...] /= xp.median(norm)
    return norm / xp.median(norm)


# --- the penalty's parameter gradient -------------------------------------------------
@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_penalty_gradient_mlp(xp, rng, make):
    critic = _mlp_critic(make, rng)
    x_hat = _inputs_away_from_kinks(critic, rng, (6, 5))
    result = _check_penalty(critic, x_hat, lam=10.0)
    assert isinstance(result, GradientPenalty)


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_penalty_gradient_deeper_mlp(xp, rng, make):
    """Four affine layers, so phi'' terms travel through two activations below them."""
    critic = _mlp_critic(make, rng, sizes=(4, 6, 5, 3, 1))
    x_hat = _inputs_away_from_kinks(critic, rng, (5, 4))
    _check_penalty(critic, x_hat, lam=2.5)


@pytest.mark.parametrize("make", [nn.Tanh, lambda: nn.LeakyReLU(0.2)], ids=["tanh", "leakyrelu"])
def test_penalty_gradient_one_sided(xp, rng, make):
    critic = _mlp_critic(make, rng)
    x_hat = _inputs_away_from_kinks(critic, rng, (8, 5))
    norm = _scale_to_unit_median_norm(critic, x_hat)
    assert bool(xp.any(norm > 1.01)) and bool(xp.any(norm < 0.99))
    one = _check_penalty(critic, x_hat, one_sided=True)
    two = _penalty_first_order(critic, x_hat)
    assert float(one.value) < float(two)  # samples with ||g|| < 1 are not penalised


@pytest.mark.parametrize("make", [nn.Softplus, nn.ReLU], ids=["softplus", "relu"])
def test_penalty_gradient_with_mask(xp, rng, make):
    """Conditional critic: the last 3 inputs (a one-hot label) are left out of ||g||."""
    critic = _mlp_critic(make, rng, sizes=(7, 6, 4, 1))
    x_hat = _inputs_away_from_kinks(critic, rng, (5, 7))
    mask = xp.asarray([[1, 1, 1, 1, 0, 0, 0]], dtype=xp.float64)
    masked = _check_penalty(critic, x_hat, mask=mask)
    unmasked = _penalty_first_order(critic, x_hat)
    assert abs(float(masked.value) - float(unmasked)) > 1e-6  # the mask matters
    ones = gradient_penalty(critic, x_hat, mask=xp.ones((1, 7), dtype=xp.float64))
    assert rel_error(ones.value, unmasked) < 1e-12


def _conv_critic(rng, c_in=1, dtype=numpy.float64):
    """Conv2d(c_in,3,3,s2,p1) - LeakyReLU - Conv2d(3,4,3,s2,p1) - Softplus - Flatten -
    Linear(16,1) on 6x6 inputs: (N,c_in,6,6) -> (N,3,3,3) -> (N,4,2,2) -> (N,16) -> (N,1)."""
    critic = nn.Sequential(
        nn.Conv2d(c_in, 3, 3, stride=2, padding=1, init="he", rng=rng), nn.LeakyReLU(0.2),
        nn.Conv2d(3, 4, 3, stride=2, padding=1, init="he", rng=rng), nn.Softplus(),
        nn.Flatten(), nn.Linear(16, 1, init="glorot", rng=rng)).astype(dtype)
    for layer in critic.layers:
        if "b" in layer.params:
            layer.params["b"][...] = 0.3 * rng.standard_normal(layer.params["b"].shape)
    return critic


def test_penalty_gradient_conv_critic(xp, rng):
    """Convolutions are affine layers: the same double backprop, checked entrywise."""
    critic = _conv_critic(rng)
    x_hat = _inputs_away_from_kinks(critic, rng, (3, 1, 6, 6))
    result = _check_penalty(critic, x_hat)
    assert float(result.grad_norm_mean) > 0


def _maxout_gap(critic, x):
    """Smallest gap between the largest and second-largest piece of any maxout unit."""
    gaps, a = [], x
    for layer in critic.layers:
        if isinstance(layer, nn.Maxout):
            pieces = a.reshape(a.shape[0], layer.units, layer.pieces)
            top2 = get_array_module(a).sort(pieces, axis=2)[:, :, -2:]
            gaps.append(float((top2[:, :, 1] - top2[:, :, 0]).min()))
        a = layer.forward(a)
    return min(gaps)


def test_penalty_gradient_maxout_dropout_tanh_critic(xp, rng):
    """Goodfellow et al.'s discriminator layers under the penalty: input dropout (one fixed
    mask), Linear - Maxout - Tanh - Linear. Maxout and dropout add no second-order term of
    their own, but the Tanh after them does (phi'' != 0), so the jvp pairs of both must
    carry the tangent and its cotangent exactly."""
    critic = nn.Sequential(FixedMaskDropout(0.8, 1.25, seed=5),
                           nn.Linear(5, 4 * 3, init="glorot", rng=rng), nn.Maxout(4, 3),
                           nn.Tanh(), nn.Linear(4, 1, init="glorot", rng=rng)).astype(numpy.float64)
    critic.layers[1].params["b"][...] = 0.3 * rng.standard_normal(12)
    for _ in range(50):
        x_hat = rng.standard_normal((6, 5))
        if _maxout_gap(critic, x_hat) > 1e-3:    # no parameter step of 1e-6 switches a piece
            break
    else:
        raise AssertionError("could not draw inputs away from the maxout ties")
    _check_penalty(critic, x_hat)


def test_penalty_gradient_conditional_conv_critic_with_mask(xp, rng):
    """Image + 2 label maps as channels; only the image channel counts in ||g||."""
    critic = _conv_critic(rng, c_in=3)
    x_hat = _inputs_away_from_kinks(critic, rng, (2, 3, 6, 6))
    mask = xp.asarray([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1)
    masked = _check_penalty(critic, x_hat, lam=1.0, one_sided=False, mask=mask)
    assert abs(float(masked.value) - float(_penalty_first_order(critic, x_hat, lam=1.0))) > 1e-6


def test_penalty_of_linear_critic_closed_form(xp, rng):
    """f(x) = x w + b has g_i = w for every sample, so P = lam (||w|| - 1)^2 and
    dP/dw = 2 lam (||w|| - 1) w / ||w||, dP/db = 0 exactly."""
    critic = nn.Sequential(nn.Linear(4, 1, rng=rng)).astype(xp.float64)
    w = critic.layers[0].params["W"]
    x_hat = rng.standard_normal((9, 4))
    critic.zero_grad()
    result = gradient_penalty(critic, x_hat, lam=3.0)
    norm = float(xp.sqrt(xp.sum(w * w)))
    assert float(result.value) == pytest.approx(3.0 * (norm - 1) ** 2, rel=1e-12)
    assert float(result.grad_norm_mean) == pytest.approx(norm, rel=1e-12)
    assert rel_error(critic.layers[0].grads["W"], 2 * 3.0 * (norm - 1) * w / norm) < 1e-12
    assert float(xp.abs(critic.layers[0].grads["b"]).max()) == 0.0


def test_penalty_accumulates_into_existing_grads(xp, rng):
    critic = _mlp_critic(nn.Tanh, rng)
    x_hat = rng.standard_normal((6, 5))
    critic.zero_grad()
    gradient_penalty(critic, x_hat)
    alone = [g.copy() for _, g in critic.parameters()]
    known = [rng.standard_normal(g.shape) for _, g in critic.parameters()]
    for (_, g), k in zip(critic.parameters(), known):
        g[...] = k
    gradient_penalty(critic, x_hat)
    arrays = {name: p for name, p, _ in critic.named_parameters()}
    added = {name: g - k for (name, _, g), k in zip(critic.named_parameters(), known)}
    assert_close(check_gradients(lambda: _penalty_first_order(critic, x_hat), arrays, added))
    for (_, g), k, a in zip(critic.parameters(), known, alone):
        assert rel_error(g, k + a) < 1e-12


class _LoggedLinear(nn.Linear):
    """Overrides jvp_backward: the zero-seed pass must still go through it."""
    calls = 0

    def jvp_backward(self, dy, dy_dot, need_dx=True):
        type(self).calls += 1
        return super().jvp_backward(dy, dy_dot, need_dx=need_dx)


def _both_reverse_passes(critic, x, v, dy_dot):
    """Parameter grads after jvp_backward(None, dy_dot, need_dx=False) (the penalty's
    zero-seeded pass) and after the plain jvp_backward(0, dy_dot), at (x, v)."""
    xp = get_array_module(x)
    grads = []
    for seed, need_dx in ((None, False), (xp.zeros_like(dy_dot), True)):
        critic.zero_grad()
        critic.forward(x)
        critic.jvp(v)
        critic.jvp_backward(seed, dy_dot, need_dx=need_dx)
        grads.append([g.copy() for _, g in critic.parameters()])
    return grads


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_reverse_pass_shortcut_equals_protocol(xp, rng, make):
    """The penalty's reverse pass, jvp_backward(None, dy_dot, need_dx=False), skips
    products known to be zero (dy = None above any phi'' != 0) or unused (the first
    layer's dx, dx_dot); it must add exactly what jvp_backward(0, dy_dot) adds, also
    through nested Sequentials and a layer with its own jvp_backward."""
    inner = nn.Sequential(nn.Linear(5, 6, rng=rng), make())
    critic = nn.Sequential(inner, _LoggedLinear(6, 4, rng=rng), make(),
                           nn.Reshape((2, 2)), nn.Flatten(), nn.Linear(4, 1, rng=rng))
    critic.astype(xp.float64)
    for layer in _leaves(critic):
        if "b" in layer.params:
            layer.params["b"][...] = 0.3 * rng.standard_normal(layer.params["b"].shape)
    x, v = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    zero_seed, plain = _both_reverse_passes(critic, x, v, rng.standard_normal((6, 1)))
    for (name, _, _), fast, slow in zip(critic.named_parameters(), zero_seed, plain):
        assert rel_error(fast, slow) < 1e-12, name
    assert _LoggedLinear.calls >= 2


def test_reverse_pass_shortcut_equals_protocol_conv(xp, rng):
    critic = _conv_critic(rng)
    x, v = rng.standard_normal((2, 1, 6, 6)), rng.standard_normal((2, 1, 6, 6))
    for fast, slow in zip(*_both_reverse_passes(critic, x, v, rng.standard_normal((2, 1)))):
        assert rel_error(fast, slow) < 1e-12


# --- the ||g|| = 0 guard ---------------------------------------------------------------
def test_zero_input_gradient_gives_finite_values(xp, rng):
    """All-zero weights: g = 0 for every sample, P = lam, v = 0, no NaN anywhere."""
    critic = _mlp_critic(nn.Tanh, rng)
    for p, _ in critic.parameters():
        p[...] = 0
    critic.zero_grad()
    result = gradient_penalty(critic, rng.standard_normal((4, 5)), lam=10.0)
    assert float(result.value) == 10.0
    assert float(result.grad_norm_mean) == 0.0
    for _, g in critic.parameters():
        assert bool(xp.all(xp.isfinite(g))) and float(xp.abs(g).max()) == 0.0


def test_dead_sample_has_zero_gradient_and_others_stay_exact(xp, rng):
    """ReLU critic where sample 0 has every unit dead: g_0 = 0 is locally constant in
    theta, so v_0 = 0 is its exact contribution; the other samples are checked as usual."""
    critic = _mlp_critic(nn.ReLU, rng, sizes=(3, 6, 1))
    first = critic.layers[0]
    first.params["b"][...] = -5.0
    x_hat = 10 * rng.standard_normal((5, 3))
    x_hat[0] = 0.0                      # a = b = -5 < 0 for every unit of sample 0
    for _ in range(50):
        alive = float(xp.abs(input_gradient(critic, x_hat)[1:]).max(axis=1).min()) > 0
        if alive and _kink_margin(critic, x_hat) > 1e-3:
            break
        x_hat[1:] = 10 * rng.standard_normal((4, 3))
    g = input_gradient(critic, x_hat)
    assert float(xp.abs(g[0]).max()) == 0.0
    _check_penalty(critic, x_hat)


# --- what cannot take part --------------------------------------------------------------
class _SampleMixing(nn.Layer):
    """Stands in for BatchNorm: mixes samples, declares mixes_samples = True."""
    mixes_samples = True

    def forward(self, x):
        return x - x.mean(axis=0)

    def backward(self, dy, param_grads=True):
        return dy - dy.mean(axis=0)


class _FirstOrderOnly(nn.Layer):
    def forward(self, x):
        return 2 * x

    def backward(self, dy, param_grads=True):
        return 2 * dy


def test_sample_mixing_layer_raises_clear_error(xp, rng):
    critic = nn.Sequential(nn.Linear(3, 4), _SampleMixing(), nn.LeakyReLU(), nn.Linear(4, 1))
    x_hat = rng.standard_normal((5, 3), dtype=xp.float32)
    with pytest.raises(nn.PenaltyIncompatibleError, match=r"critic\[1\].*mixes the samples.*BatchNorm"):
        gradient_penalty(critic, x_hat)
    for _, g in critic.parameters():  # nothing was touched
        assert float(xp.abs(g).max()) == 0.0


def test_batchnorm_critic_raises_clear_error(xp, rng):
    if not hasattr(nn, "BatchNorm"):
        pytest.skip("nn.BatchNorm not available yet")
    critic = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm(4), nn.LeakyReLU(), nn.Linear(4, 1))
    with pytest.raises(nn.PenaltyIncompatibleError, match=r"critic\[1\] = BatchNorm.*mixes the samples"):
        gradient_penalty(critic, rng.standard_normal((5, 3), dtype=xp.float32))


def test_layer_without_jvp_raises_clear_error(xp, rng):
    critic = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Tanh(), _FirstOrderOnly()),
                           nn.Linear(4, 1))
    with pytest.raises(nn.PenaltyIncompatibleError, match=r"critic\[1\]\[1\] = _FirstOrderOnly.*no second-order pair"):
        gradient_penalty(critic, rng.standard_normal((5, 3), dtype=xp.float32))


def test_penalty_rejects_bad_arguments(xp, rng):
    critic = _mlp_critic(nn.Tanh, rng)
    x_hat = rng.standard_normal((4, 5))
    for lam, error in ((-1.0, "lam must be >= 0"), (float("nan"), "lam must be finite"),
                       ("10", "lam must be a real number")):
        with pytest.raises((TypeError, ValueError), match=error):
            gradient_penalty(critic, x_hat, lam=lam)
    with pytest.raises(ValueError, match="does not broadcast to x_hat's shape"):
        gradient_penalty(critic, x_hat, mask=xp.ones((1, 4)))
    with pytest.raises(ValueError, match="one score per sample"):
        gradient_penalty(nn.Sequential(nn.Linear(5, 2)).astype(xp.float64), x_hat)
    with pytest.raises(TypeError, match="float32 or float64"):
        input_gradient(critic, xp.ones((4, 5), dtype=xp.int64))


# --- dtype, the input gradient ------------------------------------------------------------
def test_float32_preserved(xp, rng):
    critic = _mlp_critic(nn.Softplus, rng, dtype=xp.float32)
    x_hat = rng.standard_normal((6, 5), dtype=xp.float32)
    critic.zero_grad()
    result = gradient_penalty(critic, x_hat, mask=xp.ones((1, 5), dtype=xp.float64))
    assert isinstance(result.value, xp.ndarray) and result.value.ndim == 0
    assert result.value.dtype == xp.float32 and result.grad_norm_mean.dtype == xp.float32
    for p, g in critic.parameters():
        assert p.dtype == xp.float32 and g.dtype == xp.float32
    grads32 = [g.copy() for _, g in critic.parameters()]
    critic.astype(xp.float64).zero_grad()
    result64 = gradient_penalty(critic, x_hat.astype(xp.float64))
    assert rel_error(result.value, result64.value) < 1e-5
    for g32, (_, g64) in zip(grads32, critic.parameters()):
        assert rel_error(g32, g64) < 1e-4


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_input_gradient_matches_finite_differences(xp, rng, make):
    critic = _mlp_critic(make, rng)
    x = _inputs_away_from_kinks(critic, rng, (4, 5))
    critic.zero_grad()
    g = input_gradient(critic, x)
    assert g.shape == x.shape
    assert_close(check_gradients(lambda: xp.sum(critic.forward(x)), {"x": x}, {"x": g}))
    for _, grad in critic.parameters():  # param_grads=False: untouched
        assert float(xp.abs(grad).max()) == 0.0


# --- weight clipping ------------------------------------------------------------------
def test_clip_weights(xp, rng):
    critic = _mlp_critic(nn.LeakyReLU, rng, dtype=xp.float32)
    before = [p.copy() for p, _ in critic.parameters()]
    ids = [id(p) for p, _ in critic.parameters()]
    assert clip_weights(critic, 0.1) is critic
    for b, (p, _), i in zip(before, critic.parameters(), ids):
        assert id(p) == i and p.dtype == xp.float32          # in place: optimisers stay bound
        c = p.dtype.type(0.1)                                   # 0.1 rounded to float32
        assert bool(p.max() <= c) and bool(p.min() >= -c)
        assert bool(xp.all(p == xp.clip(b, -0.1, 0.1)))
    assert any(float(xp.abs(b).max()) > 0.1 for b in before)  # clipping did something


@pytest.mark.parametrize("c", [0, -0.01, float("inf"), float("nan"), "0.01", None])
def test_clip_weights_rejects_bad_bound(xp, c):
    with pytest.raises((TypeError, ValueError), match="clipping bound c must be (> 0|finite|a real number)"):
        clip_weights(nn.Linear(2, 2), c)


# --- interpolates ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(500, 3), (400, 1, 4, 4)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_interpolate_on_segment(xp, rng, shape, dtype):
    x_real = rng.standard_normal(shape).astype(dtype)
    x_fake = rng.standard_normal(shape).astype(dtype)
    x_hat, eps = interpolate(x_real, x_fake, rng)
    assert x_hat.shape == shape and x_hat.dtype == dtype and eps.dtype == dtype
    assert eps.shape == (shape[0],) + (1,) * (len(shape) - 1)
    assert float(eps.min()) >= 0.0 and float(eps.max()) <= 1.0
    assert 0.4 < float(eps.mean()) < 0.6 and float(eps.std()) > 0.2   # ~U[0, 1] per sample
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert rel_error(x_hat, eps * x_real + (1 - eps) * x_fake) < tol
    lo, hi = xp.minimum(x_real, x_fake), xp.maximum(x_real, x_fake)   # on the segment
    assert bool(xp.all(x_hat >= lo - tol)) and bool(xp.all(x_hat <= hi + tol))


def test_interpolate_is_reproducible_and_uses_default_rng(xp, rng):
    x, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 2))
    a, _ = interpolate(x, y, xp.random.default_rng(3))
    b, _ = interpolate(x, y, xp.random.default_rng(3))
    assert bool(xp.all(a == b))
    x_hat, eps = interpolate(x, y)
    assert eps.shape == (8, 1)


def test_interpolate_rejects_mismatch(xp, rng):
    x = rng.standard_normal((4, 3), dtype=xp.float32)
    with pytest.raises(ValueError, match="same shape"):
        interpolate(x, rng.standard_normal((4, 2), dtype=xp.float32), rng)
    with pytest.raises(TypeError, match="same dtype"):
        interpolate(x, rng.standard_normal((4, 3)), rng)
    with pytest.raises(TypeError, match="float32 or float64"):
        interpolate(xp.ones((4, 3), dtype=xp.int32), xp.ones((4, 3), dtype=xp.int32), rng)
