"""The speed-ups keep the results: each optimised path against the plain one it replaced.

* LeakyReLU: branch-free max(a, alpha a) and max([a > 0], alpha) against xp.where.
* phi' is formed once per forward and reused, never stale after the next forward.
* Memory layout: convolutions return NCHW-shaped views of batch-last memory, and Linear
  returns dx in its input's layout; a conv stack fed contiguous copies at every layer
  gives the same outputs and gradients.
* Flat parameter storage: a model's params and grads are views of one buffer each, from
  construction through training, loading and resuming, and every trainer (each
  optimiser, weight clipping, the gradient penalty, BatchNorm, spectral normalisation,
  InfoGAN's shared head) trains bit for bit as with one array per param.
* The optimiser update in blocks over several threads: bit for bit the single pass; so is
  col2im in blocks of channels over several threads.
* In-place elementwise passes (phi' and phi'' of Tanh/Sigmoid, the jvp_backward term, the
  losses' score gradients, the gradient penalty's cotangent): bit for bit the plain
  expressions they replaced, and no cached array is overwritten.
"""
import numpy
import pytest

from tinygan import models, nn, parallel
from tinygan.backend import make_rng, to_numpy
from tinygan.optim import ExponentialDecay, LinearRamp
from tinygan.train import make_trainer
from gradcheck import rel_error


@pytest.mark.parametrize("alpha", [0.2, 0.01, 0.5, 0.0])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_leakyrelu_matches_where_reference(xp, rng, alpha, dtype):
    a = rng.standard_normal((37, 53)).astype(dtype)
    a[0, :4] = xp.asarray([0.0, -0.0, 1e-30, -1e-30], dtype=dtype)
    layer = nn.LeakyReLU(alpha)
    y = layer.forward(a)
    one = xp.ones((), dtype=dtype)
    assert y.dtype == dtype and layer.dphi().dtype == dtype
    assert bool(xp.all(y == xp.where(a > 0, a, alpha * a)))
    assert bool(xp.all(layer.dphi() == xp.where(a > 0, one, one * alpha)))
    dy = rng.standard_normal(a.shape).astype(dtype)
    assert bool(xp.all(layer.backward(dy) == dy * xp.where(a > 0, one, one * alpha)))


@pytest.mark.parametrize("make", [nn.ReLU, lambda: nn.LeakyReLU(0.2), nn.Tanh, nn.Sigmoid,
                                  nn.Softplus], ids=["relu", "leakyrelu", "tanh", "sigmoid",
                                                     "softplus"])
def test_cached_derivative_follows_each_forward(xp, rng, make):
    layer = make()
    a1, a2 = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    dy = rng.standard_normal((4, 5))
    layer.forward(a1)
    first = layer.backward(dy)
    layer.forward(a2)
    second = layer.backward(dy)
    fresh = make()
    fresh.forward(a2)
    assert bool(xp.all(second == fresh.backward(dy)))
    assert not bool(xp.all(first == second))


class _Contiguous(nn.Layer):
    """Identity that hands on C-contiguous copies (the layout before the speed-up)."""

    def forward(self, x):
        return get_xp(x).ascontiguousarray(x)

    def backward(self, dy, param_grads=True, need_dx=True):
        return get_xp(dy).ascontiguousarray(dy) if need_dx else None


def get_xp(a):
    from tinygan.backend import get_array_module
    return get_array_module(a)


def _dcgan_like(rng, contiguous):
    layers = [nn.Conv2d(1, 3, 4, 2, 1, rng=rng), nn.LeakyReLU(0.2),
              nn.Conv2d(3, 4, 4, 2, 1, bias=False, rng=rng), nn.BatchNorm(4), nn.LeakyReLU(0.2),
              nn.Flatten(), nn.Linear(4 * 3 * 3, 1, rng=rng)]
    generator = [nn.Linear(5, 4 * 3 * 3, rng=rng), nn.ReLU(), nn.Reshape((4, 3, 3)),
                 nn.ConvTranspose2d(4, 2, 4, 2, 1, bias=False, rng=rng), nn.BatchNorm(2), nn.ReLU(),
                 nn.ConvTranspose2d(2, 1, 4, 2, 1, rng=rng), nn.Tanh()]
    stack = generator + layers
    if contiguous:
        stack = [item for layer in stack for item in (layer, _Contiguous())]
    return nn.Sequential(*stack).astype(numpy.float64)


def test_batch_last_views_give_the_same_gradients(xp):
    """G -> D stack of every layout-sensitive layer: the same outputs, input gradient and
    parameter gradients as with C-contiguous copies between all layers."""
    results = []
    for contiguous in (False, True):
        rng = xp.random.default_rng(3)
        model = _dcgan_like(rng, contiguous)
        z = rng.standard_normal((6, 5))
        s = model.forward(z)
        dz = model.backward(xp.ones_like(s) / 6)
        results.append((s, dz, [g.copy() for _, g in model.parameters()]))
        if not contiguous:   # the fast path is taken: a batch-last view, not a copy
            conv = model.layers[3]
            assert isinstance(conv, nn.ConvTranspose2d)
            assert not conv.forward(conv.x).flags.c_contiguous
    (s_a, dz_a, g_a), (s_b, dz_b, g_b) = results
    assert rel_error(s_a, s_b) < 1e-12 and rel_error(dz_a, dz_b) < 1e-12
    assert len(g_a) == len(g_b)
    for a, b in zip(g_a, g_b):
        assert rel_error(a, b) < 1e-12


def test_linear_input_gradient_keeps_the_input_layout(xp, rng):
    layer = nn.Linear(6, 3, rng=rng).astype(numpy.float64)
    x_c = rng.standard_normal((5, 6))
    x_f = xp.asfortranarray(x_c)
    dy = rng.standard_normal((5, 3))
    layer.forward(x_c)
    dx_c = layer.backward(dy, param_grads=False)
    layer.forward(x_f)
    dx_f = layer.backward(dy, param_grads=False)
    assert dx_c.flags.c_contiguous and dx_f.flags.f_contiguous
    assert rel_error(dx_c, dx_f) < 1e-14


# -- flat parameter storage ------------------------------------------------------------

def _assert_flat(model, opt=None):
    """Every param of ``model`` is a view of one buffer, every grad of another, back to
    back in order; ``opt`` (bound to the model) updates exactly those two buffers."""
    pairs = model.parameters()
    P, G = pairs[0][0].base, pairs[0][1].base
    assert P is not None and G is not None and P is not G
    assert all(p.base is P and g.base is G for p, g in pairs)
    assert P.size == G.size == sum(p.size for p, _ in pairs)
    values = numpy.concatenate([to_numpy(p).ravel() for p, _ in pairs])
    assert bool(numpy.all(to_numpy(P) == values))
    if opt is not None:
        assert len(opt._runs) == 1
        assert opt._runs[0].param.base is P and opt._runs[0].param.size == P.size
        assert opt._runs[0].grad.base is G


def _separate(model):
    """The layout before flat storage: each param and grad an array of its own."""
    for layer, name in model._parameter_slots():
        layer.params[name] = layer.params[name].copy()
        layer.grads[name] = layer.grads[name].copy()
    return model


def test_flatten_moves_nothing_once_flat_with_a_shared_layer_or_mixed_dtypes(xp):
    """A layer used twice, or a float64 layer between float32 ones, is laid out once:
    a second flatten() keeps the same buffers (no copy per call)."""
    rng = make_rng(0)
    shared = nn.Linear(3, 3, rng=rng)
    wide = nn.Linear(3, 3, rng=rng).astype(numpy.float64)
    model = nn.Sequential(shared, nn.Tanh(), wide, shared, nn.Linear(3, 1, rng=rng)).flatten()
    buffers = {p.dtype.str: p.base for p, _ in model.parameters()}
    assert len(buffers) == 2 and all(b is not None for b in buffers.values())
    model.flatten()
    assert all(p.base is buffers[p.dtype.str] for p, _ in model.parameters())


BUILDERS = {
    "mlp_generator": lambda rng: models.mlp_generator(4, (8,), 12, rng=rng),
    "mlp_discriminator": lambda rng: models.mlp_discriminator(12, (8, 6), rng=rng),
    "dcgan_generator": lambda rng: models.dcgan_generator(4, width=2, rng=rng),
    "dcgan_discriminator": lambda rng: models.dcgan_discriminator(width=2, rng=rng),
    "sn_discriminator": lambda rng: models.dcgan_discriminator(width=2, spectral_norm=True,
                                                               rng=rng),
    "wgangp_conv_critic": lambda rng: models.wgangp_conv_critic(width=2, rng=rng),
    "goodfellow_generator": lambda rng: models.goodfellow_generator(4, 8, 12, rng=rng),
    "goodfellow_discriminator": lambda rng: models.goodfellow_discriminator(12, 3, 2, rng=rng),
    "pacgan_toy_generator": lambda rng: models.pacgan_toy_generator(2, 8, 2, rng=rng),
    "pacgan_toy_discriminator": lambda rng: models.pacgan_toy_discriminator(4, 6, 3, 2, rng=rng),
}


@pytest.mark.parametrize("build", BUILDERS)
def test_models_are_built_flat_and_stay_flat(xp, build):
    model = BUILDERS[build](make_rng(0))
    _assert_flat(model)
    state = {k: v.copy() + 1 for k, v in model.state_dict().items()}
    model.load_state_dict(state)                     # copies into the views
    _assert_flat(model)
    assert all(bool(xp.all(v == state[k])) for k, v in model.state_dict().items())
    model.flatten()                                  # already flat: nothing moves
    _assert_flat(model)
    _assert_flat(model.astype(numpy.float64))
    assert _separate(model).parameters()[0][0].base is None
    _assert_flat(model.flatten())


def _small_trainer(case, flat=True):
    """A tiny trainer for ``case`` (see FLAT_CASES) on 28x28 or 12-feature data; its
    models flat, or (``flat=False``) with each param an array of its own."""
    loss, arch, options = FLAT_CASES[case]
    rng, k = make_rng(0), 4
    codes = options.get("n_cat", 0) + options.get("n_cont", 0)
    if arch == "mlp":
        G = models.mlp_generator(k + codes, (8,), 12, rng=rng)
        D = models.mlp_discriminator(12, (8,), rng=rng, out_dim=1 + codes)
    else:
        G = models.dcgan_generator(k, width=2, rng=rng)
        D = models.dcgan_discriminator(width=2, spectral_norm=arch == "sn", rng=rng)
    if not flat:
        _separate(G), _separate(D)
    trainer = make_trainer(loss, G, D, noise_dim=k, **options)
    if options.get("optimizer") == "sgd":
        for opt in (trainer.opt_G, trainer.opt_D):
            opt.attach("lr", ExponentialDecay(0.05, 1.2, 1e-3))
            opt.attach("momentum", LinearRamp(0.5, 0.7, 1, 3, 1))
    return trainer


FLAT_CASES = {
    "nsgan_adam": ("nsgan", "mlp", {}),
    "nsgan_adam_ema": ("nsgan", "mlp", {"ema": 0.9}),
    "wgan_rmsprop_clipping": ("wgan", "mlp", {"n_critic": 2}),
    "wgangp_penalty": ("wgan-gp", "mlp", {"n_critic": 2}),
    "infogan_shared_head": ("infogan", "mlp", {"n_cat": 3, "n_cont": 1}),
    "sgd_nesterov_schedules": ("nsgan", "mlp", {"optimizer": "sgd", "momentum": 0.5,
                                                "nesterov": True}),
    "dcgan_batchnorm": ("nsgan", "dcgan", {}),
    "dcgan_spectral_norm": ("lsgan", "sn", {}),
}


@pytest.mark.parametrize("case", FLAT_CASES)
def test_flat_storage_trains_bit_for_bit_like_separate_arrays(xp, case):
    """Four steps with the models flat and with one array per param (the optimisers
    then update param by param): identical parameters, optimiser states and counters.
    The flat trainer's models stay views of the buffers its optimisers update (clipping
    and the penalty's dP/dW included), and a trainer that loads its state is flat too."""
    shape = (8, 12) if FLAT_CASES[case][1] == "mlp" else (8, 1, 28, 28)
    x = xp.tanh(make_rng(5).standard_normal(shape, dtype=xp.float32))
    states = []
    for flat in (True, False):
        trainer = _small_trainer(case, flat)
        assert len(trainer.opt_D._runs) == (1 if flat else len(trainer.D.parameters()))
        for _ in range(4):
            trainer.step(x)
        if flat:
            _assert_flat(trainer.G, trainer.opt_G)
            _assert_flat(trainer.D, trainer.opt_D)
        states.append({k: to_numpy(v) for k, v in trainer.state_dict().items()})
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        numpy.testing.assert_array_equal(states[0][key], states[1][key], err_msg=key)
    resumed = _small_trainer(case)
    resumed.load_state_dict(trainer.state_dict(), trainer.meta())
    for key, value in trainer.state_dict().items():
        numpy.testing.assert_array_equal(to_numpy(resumed.state_dict()[key]), to_numpy(value))
    _assert_flat(resumed.G, resumed.opt_G)
    _assert_flat(resumed.D, resumed.opt_D)


# -- elementwise work in blocks and threads --------------------------------------------

@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks and per-thread parts small enough that the tiny test models are split."""
    monkeypatch.setattr(parallel, "BLOCK", 96)
    monkeypatch.setattr(parallel, "MIN_PER_THREAD", 40)
    yield
    parallel.set_threads(parallel.default_threads())


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 39, 40, 95, 96, 97, 1000, 4099])
@pytest.mark.parametrize("unit", [1, 7, 50, 200])
def test_blocks_cover_every_element_once(small_blocks, threads, n, unit):
    parallel.set_threads(threads)
    seen, lock = [], __import__("threading").Lock()

    def work(lo, hi):
        assert 0 <= lo < hi <= n and (hi - lo) * unit <= max(parallel.BLOCK, unit)
        with lock:
            seen.append((lo, hi))

    parallel.for_blocks(n, work, unit=unit)
    covered = numpy.zeros(n, dtype=int)
    for lo, hi in seen:
        covered[lo:hi] += 1
    assert bool(numpy.all(covered == 1))


def test_an_error_in_a_thread_reaches_the_caller(small_blocks):
    parallel.set_threads(2)

    def work(lo, hi):
        if lo >= 500:
            raise RuntimeError(f"block {lo}")

    with pytest.raises(RuntimeError, match="block"):
        parallel.for_blocks(1000, work)


@pytest.mark.parametrize("case", ["nsgan_adam", "nsgan_adam_ema", "wgan_rmsprop_clipping",
                                  "sgd_nesterov_schedules", "dcgan_batchnorm"])
def test_threaded_update_is_bit_for_bit_the_single_pass(xp, small_blocks, monkeypatch,
                                                        case):
    """Four trainer steps with the optimiser updates in blocks over 1, 2 and 3 threads,
    and as before them (each param updated whole, in one pass): the same bits."""
    shape = (8, 12) if FLAT_CASES[case][1] == "mlp" else (8, 1, 28, 28)
    x = xp.tanh(make_rng(5).standard_normal(shape, dtype=xp.float32))
    states = []
    for threads, flat in ((1, False), (1, True), (2, True), (3, True)):
        parallel.set_threads(threads)
        # the reference (not flat) updates each param in one block
        monkeypatch.setattr(parallel, "BLOCK", 96 if flat else 1 << 40)
        trainer = _small_trainer(case, flat)
        for _ in range(4):
            trainer.step(x)
        states.append({k: to_numpy(v) for k, v in trainer.state_dict().items()})
    for other in states[1:]:
        for key in states[0]:
            numpy.testing.assert_array_equal(states[0][key], other[key], err_msg=key)


@pytest.mark.parametrize("shape, k, stride, padding", [
    ((3, 5, 9, 9), 4, 2, 1), ((2, 7, 6, 5), 3, 1, 1), ((4, 1, 8, 8), 2, 2, 0)])
def test_col2im_in_channel_blocks_and_threads_is_bit_for_bit_one_sweep(
        xp, rng, small_blocks, monkeypatch, shape, k, stride, padding):
    from tinygan.nn.im2col import col2im, im2col
    cols = rng.standard_normal(im2col(xp.zeros(shape, xp.float32), k, k, stride,
                                      padding).shape).astype(xp.float32)
    results = []
    for threads, block in ((1, 1 << 40), (1, 96), (2, 96), (3, 96)):
        parallel.set_threads(threads)
        monkeypatch.setattr(parallel, "BLOCK", block)
        results.append(to_numpy(col2im(cols, shape, k, k, stride, padding)))
    for other in results[1:]:
        numpy.testing.assert_array_equal(results[0], other)


def test_thread_count_setting(monkeypatch):
    monkeypatch.delenv("TINYGAN_THREADS", raising=False)
    assert parallel.default_threads() == 1
    monkeypatch.setenv("TINYGAN_THREADS", "3")
    assert parallel.default_threads() == 3
    monkeypatch.setenv("TINYGAN_THREADS", "two")
    with pytest.raises(ValueError, match="TINYGAN_THREADS='two'"):
        parallel.default_threads()
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        parallel.set_threads(0)
    old = parallel.set_threads(2)
    assert parallel.get_threads() == 2
    parallel.set_threads(old)


# -- in-place elementwise passes against the plain expressions -------------------------

def _unit(rng, low, dtype):
    y = rng.uniform(low, 1, (9, 11)).astype(dtype)
    y[0, :3] = y.dtype.type(low), 1, 0
    return y


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_in_place_derivatives_equal_the_plain_expressions(xp, rng, dtype):
    from tinygan.nn import activations as act
    t, s = _unit(rng, -1, dtype), _unit(rng, 0, dtype)
    for got, want in ((act.tanh_grad.reference(t), 1 - t * t),
                      (act.tanh_second.reference(t), -2 * t * (1 - t * t)),
                      (act.sigmoid_grad.reference(s), s * (1 - s)),
                      (act.sigmoid_second.reference(s), s * (1 - s) * (1 - 2 * s))):
        assert got.dtype == dtype
        assert bool(xp.all(got == want))


@pytest.mark.parametrize("make", [nn.Tanh, nn.Sigmoid, nn.Softplus, nn.ReLU],
                         ids=["tanh", "sigmoid", "softplus", "relu"])
def test_jvp_backward_in_place_term_equals_the_plain_sum(xp, rng, make):
    layer = make()
    a, a_dot, dy, dy_dot = (rng.standard_normal((6, 7)) for _ in range(4))
    layer.forward(a)
    layer.jvp(a_dot)
    dphi = layer.dphi().copy()
    d2phi = layer._d2phi()
    da, da_dot = layer.jvp_backward(dy, dy_dot)
    plain = dy * dphi if d2phi is None else dy * dphi + dy_dot * d2phi * a_dot
    assert bool(xp.all(da == plain)) and bool(xp.all(da_dot == dy_dot * dphi))
    assert bool(xp.all(layer.dphi() == dphi))            # the cached phi' is untouched
    da0, _ = layer.jvp_backward(None, dy_dot)             # dy = 0: the term alone, or None
    assert (da0 is None) if d2phi is None else bool(xp.all(da0 == dy_dot * d2phi * a_dot))


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_in_place_loss_gradients_equal_the_plain_expressions(xp, rng, dtype):
    from tinygan import losses
    from tinygan.nn.functional import sigmoid
    m = 37                                   # not a power of two: / m rounds
    s_r, s_f = (rng.standard_normal((m, 1)).astype(dtype) * 4 for _ in range(2))
    t = rng.uniform(0, 1, (m, 1)).astype(dtype)
    d = losses.gan_discriminator(s_r, s_f)
    for got, want in ((losses.bce_with_logits(s_r, t).ds, (sigmoid(s_r) - t) / m),
                      (losses.bce_with_logits(s_r, 1.0).ds, (sigmoid(s_r) - 1.0) / m),
                      (d.ds_real, -sigmoid(-s_r) / m), (d.ds_fake, sigmoid(s_f) / m),
                      (losses.generator_loss_minimax(s_f).ds_fake, -sigmoid(s_f) / m),
                      (losses.generator_loss_nonsaturating(s_f).ds_fake, -sigmoid(-s_f) / m)):
        assert got.dtype == dtype and got.shape == (m, 1)
        assert bool(xp.all(got == want))


@pytest.mark.parametrize("mask", [False, True])
def test_penalty_cotangent_in_place_gives_the_same_gradients(xp, rng, mask):
    from tinygan.lipschitz import gradient_penalty, input_gradient
    critic = nn.Sequential(nn.Linear(5, 8, rng=rng), nn.Tanh(), nn.Linear(8, 1, rng=rng)
                           ).astype(numpy.float64)
    x_hat = rng.standard_normal((6, 5))
    keep = xp.asarray([[1.0, 1.0, 0.0, 1.0, 0.0]]) if mask else None
    gradient_penalty(critic, x_hat, lam=10.0, mask=keep)
    got = [g.copy() for _, g in critic.parameters()]
    critic.zero_grad()
    # the plain expressions: dg = g * coef, a new array
    g = input_gradient(critic, x_hat)
    g = g * keep if mask else g
    norm = xp.sqrt(xp.sum(g * g, axis=1))
    dg = g * ((2 * 10.0 / 6) * (norm - 1) / norm).reshape(6, 1)
    s_dot = critic.jvp(dg)
    critic.jvp_backward(None, xp.ones_like(s_dot), need_dx=False)
    for a, (_, b) in zip(got, critic.parameters()):
        assert bool(xp.all(a == b))
