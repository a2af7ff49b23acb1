"""Losses: gradient checks of every loss w.r.t. every score argument, stability at
|s| = 1e4, known values, the saturation argument of Goodfellow et al. sec. 3, and input
validation."""
import math
import warnings

import numpy
import pytest

from tinygan import losses
from gradcheck import assert_close, check_gradients


def _scores(rng, xp, shape, n_large=2):
    """Random scores ~ N(0, 2^2) with a few entries at |s| ~ 5 (the sigmoid's tails)."""
    s = 2.0 * rng.standard_normal(shape)
    flat = s.reshape(-1)
    flat[:n_large] = xp.asarray([5.0, -5.3][:n_large])
    return s


# name -> (function of the score arrays, names of the score arguments)
SCORE_LOSSES = {
    "bce_soft_targets": (None, ("s",)),           # built in the test (needs targets)
    "discriminator": (losses.gan_discriminator, ("s_real", "s_fake")),
    "minimax": (losses.generator_loss_minimax, ("s_fake",)),
    "nonsaturating": (losses.generator_loss_nonsaturating, ("s_fake",)),
    "wasserstein_critic": (losses.wasserstein_critic, ("s_real", "s_fake")),
    "wasserstein_generator": (losses.wasserstein_generator, ("s_fake",)),
    "lsgan_d": (lambda r, f: losses.least_squares_discriminator(r, f, a=-1.0, b=1.0),
                ("s_real", "s_fake")),
    "lsgan_d_default": (losses.least_squares_discriminator, ("s_real", "s_fake")),
    "lsgan_g": (lambda f: losses.least_squares_generator(f, c=0.5), ("s_fake",)),
}


@pytest.mark.parametrize("shape", [(6, 1), (6,)], ids=["m1", "m"])
@pytest.mark.parametrize("name", list(SCORE_LOSSES))
def test_loss_gradients(xp, rng, name, shape):
    fn, arg_names = SCORE_LOSSES[name]
    if fn is None:
        targets = rng.random(shape)                       # soft labels in [0, 1)
        fn = lambda s: losses.bce_with_logits(s, targets)  # noqa: E731
    # a different batch size for the second argument: each term is its own mean
    arrays = [_scores(rng, xp, (shape[0] + 2 * k,) + shape[1:]) for k in range(len(arg_names))]
    out = fn(*arrays)
    assert out._fields[1:] == tuple("d" + n for n in arg_names)
    assert out.value.shape == () and out.value.dtype == xp.float64
    for a, g in zip(arrays, out[1:]):
        assert g.shape == a.shape and g.dtype == a.dtype
    errors = check_gradients(lambda: fn(*arrays).value,
                             dict(zip(arg_names, arrays)), dict(zip(arg_names, out[1:])))
    assert_close(errors)


def test_softmax_cross_entropy_gradient(xp, rng):
    logits = 3.0 * rng.standard_normal((5, 4))
    labels = xp.asarray([0, 3, 1, 1, 2])
    out = losses.softmax_cross_entropy(logits, labels)
    assert_close(check_gradients(lambda: losses.softmax_cross_entropy(logits, labels).value,
                                 {"logits": logits}, {"logits": out.dlogits}))
    # against the naive formula -log softmax(l)_y, fine at these magnitudes
    p = xp.exp(logits) / xp.sum(xp.exp(logits), axis=1, keepdims=True)
    naive = -xp.mean(xp.log(p[xp.arange(5), labels]))
    assert float(out.value) == pytest.approx(float(naive), rel=1e-12)
    assert float(xp.max(xp.abs(xp.sum(out.dlogits, axis=1)))) < 1e-15   # rows sum to 0


def test_known_values(xp):
    zeros = xp.zeros((4, 1))
    log2 = math.log(2.0)
    assert float(losses.bce_with_logits(zeros, 0.3).value) == pytest.approx(log2, rel=1e-15)
    d = losses.gan_discriminator(zeros, xp.zeros((2, 1)))
    assert float(d.value) == pytest.approx(2 * log2, rel=1e-15)     # two means, summed
    assert bool(xp.all(d.ds_real == -0.5 / 4)) and bool(xp.all(d.ds_fake == 0.5 / 2))
    assert float(losses.generator_loss_minimax(zeros).value) == pytest.approx(-log2, rel=1e-15)
    assert float(losses.generator_loss_nonsaturating(zeros).value) == pytest.approx(log2, rel=1e-15)
    w = losses.wasserstein_critic(xp.asarray([1.0, 2.0, 3.0]), xp.asarray([0.0, 0.0, 3.0, 1.0]))
    assert float(w.value) == pytest.approx(1.0 - 2.0)
    assert bool(xp.all(w.ds_real == -1 / 3)) and bool(xp.all(w.ds_fake == 0.25))
    assert float(losses.wasserstein_generator(xp.asarray([2.0, 4.0])).value) == -3.0
    ls = losses.least_squares_discriminator(xp.ones(3), xp.zeros(3))
    assert float(ls.value) == 0.0                                    # at the targets b=1, a=0
    assert float(losses.least_squares_discriminator(zeros, zeros).value) == 0.5
    assert float(losses.least_squares_generator(zeros).value) == 0.5
    assert float(losses.least_squares_generator(xp.full(3, 3.0), c=1.0).value) == 2.0


def test_bce_matches_naive_formula_and_gan_losses(xp, rng):
    s, t = 3 * rng.standard_normal((7, 1)), rng.random((7, 1))
    sig = 1 / (1 + xp.exp(-s))
    naive = xp.mean(-t * xp.log(sig) - (1 - t) * xp.log(1 - sig))
    bce = losses.bce_with_logits(s, t)
    assert float(bce.value) == pytest.approx(float(naive), rel=1e-12)
    assert float(xp.max(xp.abs(bce.ds - (sig - t) / 7))) < 1e-15
    s_real, s_fake = s, 2 * rng.standard_normal((5, 1))
    d = losses.gan_discriminator(s_real, s_fake)
    expect = losses.bce_with_logits(s_real, 1.0).value + losses.bce_with_logits(s_fake, 0.0).value
    assert float(d.value) == pytest.approx(float(expect), rel=1e-14)
    assert float(losses.generator_loss_nonsaturating(s_fake).value) == pytest.approx(
        float(losses.bce_with_logits(s_fake, 1.0).value), rel=1e-14)
    assert float(losses.generator_loss_minimax(s_fake).value) == pytest.approx(
        -float(losses.bce_with_logits(s_fake, 0.0).value), rel=1e-14)


def _big(xp, dtype, *values):
    return xp.asarray([[v] for v in values], dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stable_at_large_scores(xp, dtype):
    """|s| = 1e4: values equal their limits, gradients finite, dtype kept, no warning."""
    dt = getattr(xp, dtype)
    P, N = _big(xp, dt, 1e4), _big(xp, dt, -1e4)
    cases = [  # (result, expected value, expected gradients)
        (losses.bce_with_logits(P, 0.0), 1e4, [1.0]),
        (losses.bce_with_logits(N, 1.0), 1e4, [-1.0]),
        (losses.bce_with_logits(P, 1.0), 0.0, [0.0]),
        (losses.bce_with_logits(N, xp.zeros((1, 1), dtype=dt)), 0.0, [0.0]),
        (losses.gan_discriminator(N, P), 2e4, [-1.0, 1.0]),       # D fooled completely
        (losses.gan_discriminator(P, N), 0.0, [0.0, 0.0]),        # D perfect
        (losses.generator_loss_minimax(N), 0.0, [0.0]),            # saturated
        (losses.generator_loss_minimax(P), -1e4, [-1.0]),
        (losses.generator_loss_nonsaturating(N), 1e4, [-1.0]),     # not saturated
        (losses.generator_loss_nonsaturating(P), 0.0, [0.0]),
        (losses.wasserstein_critic(P, N), -2e4, [-1.0, 1.0]),
        (losses.wasserstein_generator(N), 1e4, [-1.0]),
        (losses.least_squares_discriminator(P, N), 0.5 * (1e4 - 1) ** 2 + 0.5e8,
         [1e4 - 1, -1e4]),
        (losses.least_squares_generator(N), 0.5 * (1e4 + 1) ** 2, [-1e4 - 1]),
    ]
    for k, (out, value, grads) in enumerate(cases):
        assert out.value.dtype == dt and out.value.shape == (), k
        assert float(out.value) == pytest.approx(value, rel=1e-6, abs=1e-30), k
        for g, expect in zip(out[1:], grads):
            assert g.dtype == dt and bool(xp.all(xp.isfinite(g))), k
            assert float(g[0, 0]) == pytest.approx(expect, rel=1e-6, abs=1e-30), k
    ce = losses.softmax_cross_entropy(xp.asarray([[1e4, -1e4, 0.0]], dtype=dt), xp.asarray([1]))
    assert ce.value.dtype == dt and float(ce.value) == pytest.approx(2e4)
    assert [float(v) for v in ce.dlogits[0]] == [1.0, -1.0, 0.0]


def test_no_warnings_at_extremes(xp):
    """Explicitly (setup.cfg also turns RuntimeWarning into errors): no overflow anywhere."""
    s = xp.asarray([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4], dtype=xp.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for out in (losses.bce_with_logits(s, 0.5), losses.gan_discriminator(s, s),
                    losses.generator_loss_minimax(s), losses.generator_loss_nonsaturating(s)):
            for a in out:
                assert bool(xp.all(xp.isfinite(a)))


def test_minimax_saturates_nonsaturating_does_not(xp):
    """Goodfellow et al. 2014 sec. 3: early on D rejects fakes (s_fake << 0, here -5);
    log(1 - D(G(z))) then has gradient -sigma(s)/m ~ 0, -log D(G(z)) has -sigma(-s)/m ~ -1/m.
    Both point the same way (descent raises s_fake)."""
    m = 8
    s_fake = xp.full((m, 1), -5.0, dtype=xp.float32)
    g_mm = losses.generator_loss_minimax(s_fake).ds_fake
    g_ns = losses.generator_loss_nonsaturating(s_fake).ds_fake
    sig = 1 / (1 + math.exp(5.0))                                     # sigma(-5) = 0.0067
    assert float(g_mm[0, 0]) == pytest.approx(-sig / m, rel=1e-5)
    assert float(g_ns[0, 0]) == pytest.approx(-(1 - sig) / m, rel=1e-5)
    assert bool(xp.all(g_mm < 0)) and bool(xp.all(g_ns < 0))
    assert float(xp.max(xp.abs(g_mm) / xp.abs(g_ns))) < 0.01             # >100x weaker


def test_values_are_device_arrays_not_python_floats(xp, rng):
    out = losses.gan_discriminator(rng.standard_normal((3, 1), dtype=xp.float32),
                                    rng.standard_normal((3, 1), dtype=xp.float32))
    assert isinstance(out.value, xp.ndarray) and out.value.dtype == xp.float32
    assert out.value.ndim == 0


def test_bad_inputs_raise(xp, rng):
    s = rng.standard_normal((4, 1), dtype=xp.float32)
    with pytest.raises(ValueError,
                       match=r"targets shape \(4,\) does not match scores shape \(4, 1\)"):
        losses.bce_with_logits(s, xp.zeros(4, dtype=xp.float32))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        losses.bce_with_logits(s, 2.0)
    with pytest.raises(TypeError, match="expected a float32 or float64 array"):
        losses.generator_loss_nonsaturating(xp.zeros((4, 1), dtype=xp.int32))
    with pytest.raises(ValueError, match=r"shape \(m,\) or \(m, 1\)"):
        losses.gan_discriminator(s, rng.standard_normal((4, 2), dtype=xp.float32))
    with pytest.raises(ValueError, match=r"m >= 1"):
        losses.wasserstein_generator(xp.zeros((0, 1), dtype=xp.float32))
    with pytest.raises(TypeError, match="same dtype"):
        losses.wasserstein_critic(s, xp.zeros((4, 1)))
    with pytest.raises(TypeError, match="must be an array"):
        losses.generator_loss_minimax([0.0, 1.0])
    with pytest.raises(TypeError, match="c must be a real number"):
        losses.least_squares_generator(s, c="1")
    logits = rng.standard_normal((3, 4), dtype=xp.float32)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        losses.softmax_cross_entropy(logits, xp.asarray([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        losses.softmax_cross_entropy(logits, xp.asarray([0, -1, 1]))
    with pytest.raises(TypeError, match="integer array"):
        losses.softmax_cross_entropy(logits, xp.asarray([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        losses.softmax_cross_entropy(logits, xp.asarray([[0], [1], [1]]))
    with pytest.raises(ValueError, match=r"shape \(m, K\)"):
        losses.softmax_cross_entropy(logits[0], xp.asarray([0]))


def test_float32_hyperparameters_do_not_promote(xp, rng):
    """numpy.float64 targets (a, b, c) are read as Python floats: float32 stays float32."""
    s = rng.standard_normal((4, 1), dtype=xp.float32)
    out = losses.least_squares_discriminator(s, s, a=numpy.float64(-1), b=numpy.float64(1))
    assert all(a.dtype == xp.float32 for a in out)
    out = losses.bce_with_logits(s, rng.random((4, 1)))                # float64 targets
    assert all(a.dtype == xp.float32 for a in out)
