"""Training algorithms: each step moves things the way its paper says, the k / n_critic
schedules, the G update leaves D alone, conditional joining, BatchNorm batch separation,
exact resume through a checkpoint, and one full step written out by hand."""
import json

import numpy
import pytest

from tinygan import checkpoint, lipschitz, losses, models, nn, optim, train
from tinygan.backend import derived_seed, make_rng, to_numpy
from tinygan.nn.functional import sigmoid

NOISE_DIM = 3
ALL_LOSSES = ["gan", "nsgan", "wgan", "wgan-gp", "lsgan"]
NEVER = 10 ** 9          # k / n_critic so large that G is never updated


def tiny_models(xp, n_classes=0, model_seed=1, hidden=(16,), dtype=numpy.float32):
    rng = xp.random.default_rng(model_seed)
    G = models.mlp_generator(NOISE_DIM, hidden, 2, n_classes=n_classes, rng=rng, dtype=dtype)
    D = models.mlp_discriminator(2, hidden, n_classes=n_classes, rng=rng, dtype=dtype)
    return G, D


def tiny(xp, loss, conditional=False, n_classes=3, seed=0, model_seed=1, dtype=numpy.float32,
         **overrides):
    G, D = tiny_models(xp, n_classes if conditional else 0, model_seed, dtype=dtype)
    return train.make_trainer(loss, G, D, noise_dim=NOISE_DIM, conditional=conditional,
                              n_classes=n_classes, seed=seed, **overrides)


def toy_batch(xp, m=16, seed=5, dtype=numpy.float32):
    """A 2-D Gaussian blob at (1, -1) with std 0.1."""
    rng = xp.random.default_rng(seed)
    return (rng.standard_normal((m, 2), dtype=dtype) * 0.1
            + xp.asarray([1.0, -1.0], dtype=dtype))


def snapshot(model):
    return [p.copy() for p, _ in model.parameters()]


def same(xp, a, b):
    return all(bool(xp.array_equal(u, v)) for u, v in zip(a, b))


def schedule_override(loss, n):
    return {"k": n} if loss in ("gan", "nsgan", "lsgan") else {"n_critic": n}


STATS = {
    "gan": {"d_loss", "g_loss", "d_real", "d_fake"},
    "nsgan": {"d_loss", "g_loss", "d_real", "d_fake"},
    "lsgan": {"d_loss", "g_loss", "d_real", "d_fake"},
    "wgan": {"d_loss", "g_loss", "wasserstein"},
    "wgan-gp": {"d_loss", "g_loss", "wasserstein", "gp", "grad_norm"},
}


# -- dtypes and statistics ---------------------------------------------------------------

@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_step_returns_0d_device_arrays_and_keeps_float32(xp, loss):
    t = tiny(xp, loss)
    x = toy_batch(xp)
    for _ in range(6):
        stats = t.step(x)
    assert set(stats) == STATS[loss]
    for name, v in stats.items():
        assert isinstance(v, xp.ndarray) and v.shape == () and v.dtype == xp.float32, name
        assert numpy.isfinite(float(v)), name
    for model in (t.G, t.D):
        for p, g in model.parameters():
            assert p.dtype == xp.float32 and g.dtype == xp.float32
    for name, v in t.state_dict().items():
        assert v.dtype == xp.float32, name


def test_float64_flows_through(xp):
    t = tiny(xp, "wgan-gp", dtype=numpy.float64)
    stats = t.step(toy_batch(xp, dtype=numpy.float64))
    assert all(v.dtype == xp.float64 for v in stats.values())
    assert t.sample(3).dtype == xp.float64


# -- each algorithm moves things the expected way ----------------------------------------

@pytest.mark.parametrize("loss", ["gan", "nsgan", "lsgan"])
def test_discriminator_learns_against_a_fixed_generator(xp, loss):
    """With G frozen (k huge), D's loss on fresh fakes from the same G falls, and D
    separates real from fake (Alg. 1 line 5 ascends log D(x) + log(1 - D(G(z))))."""
    t = tiny(xp, loss, k=NEVER, lr_D=1e-2)
    G0 = snapshot(t.G)
    x = toy_batch(xp)
    history = [t.step(x) for _ in range(40)]
    first = numpy.mean([float(s["d_loss"]) for s in history[:5]])
    last = numpy.mean([float(s["d_loss"]) for s in history[-5:]])
    assert last < 0.5 * first
    assert float(history[-1]["d_real"]) > float(history[-1]["d_fake"])
    assert same(xp, G0, snapshot(t.G)) and t.g_steps == 0


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp"])
def test_critic_estimate_increases(xp, loss):
    """Critic-only training raises mean f(x) - mean f(G(z)); WGAN's weights stay in [-c, c]."""
    over = {"clip": 0.05} if loss == "wgan" else {}
    t = tiny(xp, loss, n_critic=NEVER, lr_D=1e-3, **over)
    x = toy_batch(xp)
    history = []
    for _ in range(40):
        history.append(float(t.step(x)["wasserstein"]))
        if loss == "wgan":
            largest = max(float(xp.abs(p).max()) for p, _ in t.D.parameters())
            assert largest <= float(numpy.float32(0.05))
    assert numpy.mean(history[-5:]) > numpy.mean(history[:5]) + 1e-3


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_generator_learns_against_a_fixed_discriminator(xp, loss):
    """Lines 'update the generator': repeated G updates against a frozen D lower G's loss,
    and leave D's parameters exactly as they were."""
    t = tiny(xp, loss, lr_G=1e-2)
    D0 = snapshot(t.D)
    values = [float(t.generator_step(32, None)) for _ in range(30)]
    assert numpy.mean(values[-5:]) < numpy.mean(values[:5])
    assert same(xp, D0, snapshot(t.D))


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_generator_update_leaves_discriminator_params_and_grads(xp, loss):
    t = tiny(xp, loss)
    for _, g in t.D.parameters():
        g[...] = 7.0                     # sentinel: D.backward(param_grads=False) must not touch it
    D0, G0 = snapshot(t.D), snapshot(t.G)
    t.generator_step(8, None)
    assert same(xp, D0, snapshot(t.D))
    assert all(bool(xp.all(g == 7.0)) for _, g in t.D.parameters())
    assert not same(xp, G0, snapshot(t.G))


# -- schedules ------------------------------------------------------------------------------

@pytest.mark.parametrize("loss, n", [("gan", 3), ("lsgan", 2), ("wgan", 5), ("wgan-gp", 4)])
def test_generator_updated_once_every_k_calls(xp, loss, n):
    t = tiny(xp, loss, **schedule_override(loss, n))
    x = toy_batch(xp)
    changed = []
    for _ in range(3 * n + 1):
        before = snapshot(t.G)
        t.step(x)
        changed.append(not same(xp, before, snapshot(t.G)))
    expected = [(i + 1) % n == 0 for i in range(3 * n + 1)]
    assert changed == expected
    assert (t.g_steps, t.d_steps) == (3, 3 * n + 1)


def test_wgan_warmup_schedule(xp):
    """The authors' code: 100 critic updates before each of the first 25 G updates and
    before every 500th one, n_critic otherwise."""
    t = tiny(xp, "wgan", warmup=True)
    expected = {0: 100, 1: 100, 24: 100, 25: 5, 26: 5, 499: 5, 500: 100, 501: 5, 1000: 100}
    for g_steps, n in expected.items():
        t.g_steps = g_steps
        assert t.d_updates_per_g() == n, g_steps
    t.g_steps = 0
    x = toy_batch(xp, m=4)
    for call in range(1, 101):
        t.step(x)
        assert t.g_steps == (1 if call == 100 else 0)
    assert tiny(xp, "wgan").d_updates_per_g() == 5     # off by default (the paper's box)


def test_wgan_clips_all_critic_weights(xp):
    t = tiny(xp, "wgan", lr=1e-2)          # a large lr pushes weights past c every step
    c = float(numpy.float32(0.01))          # the bound as float32 stores it
    assert max(float(xp.abs(p).max()) for p, _ in t.D.parameters()) <= c   # clipped at build
    x = toy_batch(xp)
    for _ in range(5):
        t.step(x)
        assert max(float(xp.abs(p).max()) for p, _ in t.D.parameters()) <= c
    assert float(xp.abs(t.D[0].params["W"]).max()) == c      # the bound is hit


# -- WGAN-GP -------------------------------------------------------------------------------

def test_gradient_penalty_gradient_is_added(xp):
    """grads(lam=10) - grads(lam=0) is exactly the penalty's parameter gradient at the
    same interpolates (the same noise and eps drawn from the trainer's generator)."""
    x = toy_batch(xp)
    grads = {}
    for lam in (0.0, 10.0):
        t = tiny(xp, "wgan-gp", lam=lam, n_critic=NEVER, seed=4)
        t.step(x)
        grads[lam] = [g.copy() for _, g in t.D.parameters()]
    # the same draws by hand: z, then eps
    G, D = tiny_models(xp)
    rng = xp.random.default_rng(4)
    x_fake = G.forward(rng.standard_normal((16, NOISE_DIM), dtype=xp.float32))
    x_hat, _ = lipschitz.interpolate(x, x_fake, rng)
    D.zero_grad()
    lipschitz.gradient_penalty(D, x_hat, lam=10.0)
    # (a piecewise-linear critic's input gradient does not depend on its biases, so
    # their penalty gradient is 0; the weights' is not)
    assert all(float(xp.abs(layer.grads["W"]).max()) > 0 for layer in (D[0], D[2]))
    for g10, g0, (_, g_pen) in zip(grads[10.0], grads[0.0], D.parameters()):
        scale = max(float(xp.abs(g_pen).max()), 1e-3)
        assert float(xp.abs((g10 - g0) - g_pen).max()) <= 1e-5 * scale


@pytest.mark.parametrize("scale", [0.05, 5.0])
def test_gradient_penalty_pulls_grad_norm_to_one(xp, scale):
    """With the penalty dominating (lam = 1000), critic updates bring ||grad f(x_hat)||
    towards 1 from below (a flat critic) and from above (a steep one)."""
    t = tiny(xp, "wgan-gp", n_critic=NEVER, lr_D=1e-2, lam=1000.0)
    t.D[-1].params["W"][...] *= scale
    x = toy_batch(xp)
    norms = [float(t.step(x)["grad_norm"]) for _ in range(40)]
    assert abs(norms[0] - 1) > 0.9
    assert abs(numpy.mean(norms[-5:]) - 1) < 0.5 * abs(norms[0] - 1)
    if scale < 1:
        assert abs(numpy.mean(norms[-5:]) - 1) < 0.1


def test_wgangp_rejects_batchnorm_critic(xp):
    G = models.dcgan_generator(noise_dim=4, width=2)
    D = models.dcgan_discriminator(batchnorm=True, width=2)
    with pytest.raises(nn.PenaltyIncompatibleError, match="BatchNorm"):
        train.make_trainer("wgan-gp", G, D, noise_dim=4)


# -- real/fake batches through D -----------------------------------------------------------

@pytest.mark.parametrize("loss", ["nsgan", "wgan", "lsgan", "wgan-gp"])
def test_separate_and_concatenated_batches_agree_without_batchnorm(xp, loss):
    x = toy_batch(xp)
    results = []
    for separate in (True, False):
        t = tiny(xp, loss, separate_batches=separate, **schedule_override(loss, NEVER))
        stats = t.step(x)
        results.append((float(stats["d_loss"]), [g.copy() for _, g in t.D.parameters()]))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-6)
    for a, b in zip(grads_a, grads_b):
        assert float(xp.abs(a - b).max()) <= 1e-5 * max(float(xp.abs(b).max()), 1e-12)


def _dcgan_trainer(xp, loss="nsgan", conditional=False, **overrides):
    nc = 2 if conditional else 0
    rng = xp.random.default_rng(2)
    G = models.dcgan_generator(noise_dim=4, n_classes=nc, width=2, rng=rng)
    D = models.dcgan_discriminator(n_classes=nc, width=2, rng=rng)
    return train.make_trainer(loss, G, D, noise_dim=4, conditional=conditional, n_classes=2,
                              **overrides)


def test_batchnorm_discriminator_sees_real_and_fake_batches_separately(xp):
    """DCGAN: real and fake minibatches are normalised with their own statistics, so
    D(x_real) in the step equals D on the real batch alone."""
    x = toy_batch(xp, m=2 * 784).reshape(4, 1, 28, 28) * 0.3
    t = _dcgan_trainer(xp)
    assert t.separate_batches
    _, D_copy = _dcgan_trainer(xp).G, _dcgan_trainer(xp).D
    expected = float(xp.mean(sigmoid(D_copy.forward(x))))
    assert float(t.step(x)["d_real"]) == pytest.approx(expected, rel=1e-6)
    # forced onto one concatenated batch, the statistics mix and D(x) changes
    mixed = _dcgan_trainer(xp, separate_batches=False)
    assert float(mixed.step(x)["d_real"]) != pytest.approx(expected, rel=1e-3)


def test_dcgan_conditional_step_and_sample_in_eval_mode(xp):
    t = _dcgan_trainer(xp, conditional=True)
    x = toy_batch(xp, m=2 * 784).reshape(4, 1, 28, 28) * 0.3
    stats = t.step(x, xp.asarray([0, 1, 1, 0]))
    assert numpy.isfinite(float(stats["d_loss"])) and t.g_steps == 1
    z = t.sample_noise(3)
    a, b = t.sample(z=z), t.sample(z=z[:1])       # eval mode: running stats, per-sample
    assert a.shape == (3, 1, 28, 28)
    assert float(xp.abs(a[:1] - b).max()) < 1e-6
    assert t.G.training and all(layer.training for layer in t.G.layers)


# -- conditional GAN ------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_conditional_trainers_run(xp, loss):
    t = tiny(xp, loss, conditional=True)
    assert t.G[0].n_in == NOISE_DIM + 3 and t.D[0].n_in == 2 + 3
    x = toy_batch(xp, m=6)
    y = xp.arange(6) % 3
    for _ in range(5):
        stats = t.step(x, y)
    assert all(numpy.isfinite(float(v)) for v in stats.values())
    assert t.step(x, xp.eye(3, dtype=xp.float32)[y])["d_loss"].shape == ()   # one-hot too
    assert t.sample(6).shape == (6, 2)


def test_conditional_labels_reach_generator(xp):
    t = tiny(xp, "nsgan", conditional=True)
    z = t.sample_noise(4)
    by_int = t.sample(z=z, y=xp.asarray([0, 1, 2, 0]))
    by_onehot = t.sample(z=z, y=xp.eye(3, dtype=xp.float32)[xp.asarray([0, 1, 2, 0])])
    assert bool(xp.array_equal(by_int, by_onehot))
    assert float(xp.abs(by_int[0] - t.sample(z=z[:1], y=xp.asarray([1]))[0]).max()) > 0
    assert bool(xp.array_equal(t.sample(z=z), t.sample(z=z, y=xp.asarray([0, 1, 2, 0]))))


def test_conditional_generator_learns_class_dependent_output(xp):
    """Class 0 data at (-1, -1), class 1 at (1, 1): after training, G(z, y=0) and
    G(z, y=1) land on their own class's side."""
    t = tiny(xp, "nsgan", conditional=True, n_classes=2, lr=5e-3)
    rng = xp.random.default_rng(0)
    for _ in range(150):
        y = rng.integers(0, 2, size=32)
        centres = (2 * y[:, None] - 1).astype(xp.float32)
        x = centres + 0.1 * rng.standard_normal((32, 2), dtype=xp.float32)
        t.step(x, y)
    z = t.sample_noise(200)
    mean0 = float(t.sample(z=z, y=xp.zeros(200, dtype=xp.int64)).mean())
    mean1 = float(t.sample(z=z, y=xp.ones(200, dtype=xp.int64)).mean())
    assert mean0 < -0.3 and mean1 > 0.3


@pytest.mark.parametrize("fake_labels", ["real", "uniform"])
def test_conditional_wgangp_runs(xp, fake_labels):
    t = tiny(xp, "wgan-gp", conditional=True, fake_labels=fake_labels)
    stats = t.step(toy_batch(xp, m=6), xp.arange(6) % 3)
    assert all(numpy.isfinite(float(v)) for v in stats.values())


def test_conditional_wgangp_penalty_over_data_part(xp):
    """The critic's input is [x, y]; ||grad f|| is taken over x only (the label is not
    perturbed): grad_norm equals the masked norm at the same interpolates, not the full one."""
    x, y = toy_batch(xp, m=6), xp.arange(6) % 3
    t = tiny(xp, "wgan-gp", conditional=True, n_critic=NEVER, seed=3)
    grad_norm = float(t.step(x, y)["grad_norm"])
    # the same draws by hand: z, then eps; fakes carry the real labels
    G, D = tiny_models(xp, n_classes=3)
    rng = xp.random.default_rng(3)
    y1 = xp.eye(3, dtype=xp.float32)[y]
    z = rng.standard_normal((6, NOISE_DIM), dtype=xp.float32)
    x_fake = G.forward(models.join_label(z, y1))
    x_hat, _ = lipschitz.interpolate(models.join_label(x, y1), models.join_label(x_fake, y1), rng)
    mask = models.label_mask(x_hat.shape, 2, xp=xp)
    assert [float(v) for v in mask[0]] == [1, 1, 0, 0, 0]
    masked = float(lipschitz.gradient_penalty(D, x_hat, mask=mask).grad_norm_mean)
    full = float(lipschitz.gradient_penalty(D, x_hat).grad_norm_mean)
    assert grad_norm == pytest.approx(masked, rel=1e-5)
    assert abs(full - masked) > 1e-3 * masked


def test_label_arguments_checked(xp):
    x = toy_batch(xp, m=4)
    with pytest.raises(ValueError, match="y_real"):
        tiny(xp, "gan", conditional=True).step(x)
    with pytest.raises(ValueError, match="not conditional"):
        tiny(xp, "gan").step(x, xp.zeros(4, dtype=xp.int64))
    with pytest.raises(ValueError, match="labels"):
        tiny(xp, "gan", conditional=True).step(x, xp.zeros(3, dtype=xp.int64))


# -- noise and sampling -----------------------------------------------------------------------

def test_noise_distributions(xp):
    z = tiny(xp, "gan", noise="uniform").sample_noise(2000)
    assert z.shape == (2000, NOISE_DIM) and z.dtype == xp.float32
    assert float(z.min()) >= -1 and float(z.max()) <= 1 and float(z.min()) < -0.99
    z = tiny(xp, "gan").sample_noise(2000)
    assert z.dtype == xp.float32 and abs(float(z.std()) - 1) < 0.05 and float(z.min()) < -2


def test_sampling_does_not_disturb_training(xp):
    x = toy_batch(xp)
    a, b = tiny(xp, "nsgan"), tiny(xp, "nsgan")
    for _ in range(3):
        sa = a.step(x)
        b.sample(5)
        sb = b.step(x)
    assert float(sa["d_loss"]) == float(sb["d_loss"]) and same(xp, snapshot(a.G), snapshot(b.G))
    with pytest.raises(ValueError):
        a.sample()
    with pytest.raises(ValueError):
        a.sample(z=xp.zeros((2, NOISE_DIM + 1), dtype=xp.float32))


# -- the average of G's weights (ema) ------------------------------------------------------

def test_averaging_leaves_training_unchanged_and_samples_from_the_average(xp):
    """ema changes what sample() draws from, never what trains: G, D and the losses
    follow the run without it bit for bit, and the average follows its recurrence."""
    x = toy_batch(xp)
    plain, avg = tiny(xp, "nsgan"), tiny(xp, "nsgan", ema=0.9)
    theta_bar = [p.astype(xp.float64) for p in snapshot(avg.G)]       # theta_bar_0 = theta_0
    for _ in range(5):
        sp, sa = plain.step(x), avg.step(x)
        assert {k: float(v) for k, v in sp.items()} == {k: float(v) for k, v in sa.items()}
        theta_bar = [0.9 * b + 0.1 * p for b, p in zip(theta_bar, snapshot(avg.G))]
    assert same(xp, snapshot(plain.G), snapshot(avg.G))
    assert same(xp, snapshot(plain.D), snapshot(avg.D))
    for b, a in zip(theta_bar, avg.ema_G.state["average"]):
        assert float(xp.abs(b - a).max()) < 1e-6 * (1 + float(xp.abs(b).max()))
    assert not same(xp, theta_bar, snapshot(avg.G))                      # they differ
    z = avg.sample_noise(6)
    trained = snapshot(avg.G)
    assert bool(xp.array_equal(avg.sample(z=z, averaged=False), plain.sample(z=z)))
    drawn = avg.sample(z=z)
    assert same(xp, snapshot(avg.G), trained)                    # G's own weights put back
    for (p, _), a in zip(avg.G.parameters(), avg.ema_G.state["average"]):
        p[...] = a
    assert bool(xp.array_equal(drawn, avg.G.eval().forward(z)))
    assert plain.ema_G is None and "ema" not in plain.config and avg.config["ema"] == 0.9


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_the_average_moves_after_every_generator_update(xp, update):
    """Both of GAN's update schemes (the simultaneous one is Goodfellow et al.'s code)."""
    x = toy_batch(xp)
    t = tiny(xp, "nsgan", update=update, ema=0.9)
    theta_bar = [p.astype(xp.float64) for p in snapshot(t.G)]
    for _ in range(3):
        t.step(x)
        theta_bar = [0.9 * b + 0.1 * p for b, p in zip(theta_bar, snapshot(t.G))]
    assert t.g_steps == t.ema_G.t == 3
    for b, a in zip(theta_bar, t.ema_G.state["average"]):
        assert float(xp.abs(b - a).max()) < 1e-6 * (1 + float(xp.abs(b).max()))


def batchnorm_tiny(xp, ema=0.0, conditional=False):
    """nsgan with a BatchNorm generator z (3) -> Linear 8 -> BatchNorm -> tanh -> Linear 2."""
    rng = xp.random.default_rng(1)
    k = NOISE_DIM + (3 if conditional else 0)
    G = nn.Sequential(nn.Linear(k, 8, rng=rng), nn.BatchNorm(8), nn.Tanh(),
                      nn.Linear(8, 2, rng=rng)).flatten()
    D = models.mlp_discriminator(2, (16,), n_classes=3 if conditional else 0, rng=rng)
    return train.make_trainer("nsgan", G, D, noise_dim=NOISE_DIM, conditional=conditional,
                              n_classes=3, ema=ema)


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_a_batchnorm_generators_average_has_its_own_statistics(xp, conditional):
    """With BatchNorm in G, the average samples with statistics estimated under the
    average (2,000 fixed draws of the prior); training, G's own statistics and its weights
    are left exactly as without an average."""
    x = toy_batch(xp)
    y = xp.arange(16) % 3 if conditional else None
    plain, avg = batchnorm_tiny(xp, conditional=conditional), \
        batchnorm_tiny(xp, 0.9, conditional=conditional)
    for i in range(4):
        plain.step(x, y), avg.step(x, y)
        if i == 1:                 # sampling and checkpoints between steps change nothing
            avg.sample(3), avg.state_dict()
    assert plain.average_statistics() == {}
    stats = avg.average_statistics()
    assert set(stats) == {"1.running_mean", "1.running_var"}
    assert avg.average_statistics() is stats                    # estimated once per G update
    # by hand: the pre-BatchNorm activations of the same draws under the averaged weights
    W, b = (avg.ema_G.state["average"][i] for i in (0, 1))
    rng = make_rng(derived_seed(avg.seed, 2))
    h = [to_numpy(avg.prior_input(100, rng) @ W + b).astype(numpy.float64) for _ in range(20)]
    for name, want in (("mean", numpy.mean([a.mean(axis=0) for a in h], axis=0)),
                       ("var", numpy.mean([a.var(axis=0, ddof=1) for a in h], axis=0))):
        got = to_numpy(stats[f"1.running_{name}"])
        assert numpy.abs(got - want).max() < 1e-5 * numpy.abs(want).max(), name
    z = avg.sample_noise(6)
    labels = xp.arange(6) % 3 if conditional else None
    g_input = models.join_label(z, avg._one_hot(labels, 6)) if conditional else z
    own = {k: v.copy() for k, v in avg.G.state_dict().items()}
    drawn = avg.sample(z=z, y=labels)
    for k, v in avg.G.state_dict().items():                     # G's own put back
        assert bool(xp.array_equal(v, own[k])), k
    assert same(xp, snapshot(plain.G), snapshot(avg.G))         # training unchanged
    assert bool(xp.array_equal(plain.G.layers[1].running_mean, avg.G.layers[1].running_mean))
    assert bool(xp.array_equal(avg.sample(z=z, y=labels, averaged=False),
                               plain.sample(z=z, y=labels)))
    for (p, _), a in zip(avg.G.parameters(), avg.ema_G.state["average"]):
        p[...] = a
    avg.G.load_state_dict({**avg.G.state_dict(), **stats})
    assert bool(xp.array_equal(drawn, avg.G.eval().forward(g_input)))
    avg.G.train().load_state_dict(own)
    assert {f"ema_G_batchnorm.1.running_{s}" for s in ("mean", "var")} <= set(avg.state_dict())
    avg.step(x, y)
    assert avg.average_statistics() is not stats                 # the average moved


def test_resume_keeps_the_average_and_refuses_another_ema(xp, tmp_path):
    x = toy_batch(xp)
    a = tiny(xp, "wgan-gp", ema=0.5, n_critic=2)
    for _ in range(5):
        a.step(x)
    assert {"ema_G.average.0", "ema_G.average.3"} <= set(a.state_dict())
    path = str(tmp_path / "ckpt.npz")
    checkpoint.save(path, a.state_dict(), a.meta())
    arrays, meta = checkpoint.load(path)
    b = tiny(xp, "wgan-gp", ema=0.5, n_critic=2, model_seed=99)
    b.load_state_dict(arrays, meta)
    assert same(xp, a.ema_G.state["average"], b.ema_G.state["average"]) and b.ema_G.t == a.ema_G.t
    for _ in range(4):
        a.step(x), b.step(x)
    assert same(xp, a.ema_G.state["average"], b.ema_G.state["average"])
    with pytest.raises(ValueError, match="ema"):
        tiny(xp, "wgan-gp", ema=0.9, n_critic=2).load_state_dict(arrays, meta)
    with pytest.raises(ValueError, match="ema"):
        tiny(xp, "wgan-gp", n_critic=2).load_state_dict(arrays, meta)
    plain = tiny(xp, "wgan-gp", n_critic=2)   # no average: its config is as before averaging
    assert "ema" not in plain.meta()["config"]
    tiny(xp, "wgan-gp", n_critic=2).load_state_dict(plain.state_dict(), plain.meta())
    with pytest.raises(ValueError, match="ema"):
        tiny(xp, "wgan-gp", n_critic=2, ema=0.5).load_state_dict(plain.state_dict(), plain.meta())


# -- checkpoints --------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_resume_from_checkpoint_is_exact(xp, tmp_path, loss):
    """Save mid-cycle (between G updates), load into a trainer built from other initial
    weights: on NumPy the next steps are bit-identical to the uninterrupted run."""
    x = toy_batch(xp)
    a = tiny(xp, loss, **schedule_override(loss, 2))
    for _ in range(3):
        a.step(x)
    path = str(tmp_path / "ckpt.npz")
    checkpoint.save(path, a.state_dict(), a.meta())
    json.dumps(a.meta())                                  # JSON-able as it is
    arrays, meta = checkpoint.load(path)
    b = tiny(xp, loss, model_seed=99, **schedule_override(loss, 2))
    b.load_state_dict(arrays, meta)
    assert (b.g_steps, b.d_steps) == (a.g_steps, a.d_steps)
    assert same(xp, snapshot(a.G), snapshot(b.G)) and same(xp, snapshot(a.D), snapshot(b.D))
    if xp.__name__ != "numpy":
        pytest.skip("CuPy generators cannot export their state: resume is deterministic, "
                    "not identical")
    for _ in range(4):
        sa, sb = a.step(x), b.step(x)
        assert {k: float(v) for k, v in sa.items()} == {k: float(v) for k, v in sb.items()}
    assert same(xp, snapshot(a.G), snapshot(b.G)) and same(xp, snapshot(a.D), snapshot(b.D))
    assert bool(xp.array_equal(a.sample(4), b.sample(4)))


def test_load_checks_loss_and_configuration(xp):
    a = tiny(xp, "wgan")
    arrays, meta = a.state_dict(), a.meta()
    with pytest.raises(ValueError, match="wgan"):
        tiny(xp, "wgan-gp").load_state_dict(arrays, meta)
    with pytest.raises(ValueError, match="n_critic"):
        tiny(xp, "wgan", n_critic=3).load_state_dict(arrays, meta)
    with pytest.raises(ValueError, match="meta"):
        tiny(xp, "wgan").load_state_dict(arrays, {"loss": "wgan"})


def test_state_dict_names(xp):
    t = tiny(xp, "wgan-gp")
    names = set(t.state_dict())
    assert {"G.0.W", "G.0.b", "D.2.W", "opt_G.m.0", "opt_D.v.3"} <= names
    meta = t.meta()
    assert meta["optimizers"]["opt_D"]["beta1"] == 0.0 and meta["loss"] == "wgan-gp"


# -- make_trainer: defaults and errors ------------------------------------------------------

def test_paper_default_optimisers(xp):
    t = tiny(xp, "wgan")
    assert isinstance(t.opt_D, optim.RMSProp) and t.opt_D.lr == 5e-5
    assert (t.n_critic, t.clip) == (5, 0.01)
    t = tiny(xp, "wgan-gp")
    assert isinstance(t.opt_G, optim.Adam) and t.opt_G.lr == 1e-4 and t.opt_D.betas == (0.0, 0.9)
    assert (t.n_critic, t.lam) == (5, 10.0)
    assert tiny(xp, "wgan-gp", betas=(0.5, 0.9)).opt_D.betas == (0.5, 0.9)   # authors' MNIST script
    t = tiny(xp, "nsgan")
    assert isinstance(t.opt_D, optim.Adam) and t.opt_D.lr == 2e-4 and t.opt_D.betas == (0.5, 0.999)
    t = tiny(xp, "gan", optimizer="sgd")
    assert isinstance(t.opt_D, optim.SGD) and t.opt_D.lr == 0.1 and t.opt_D.momentum == 0.5
    t = tiny(xp, "wgan", optimizer="adam", lr=3e-4)
    assert isinstance(t.opt_G, optim.Adam) and t.opt_G.lr == 3e-4 and t.opt_G.betas == (0.5, 0.999)
    assert tiny(xp, "wgan-gp", eps=1e-6).opt_D.eps == 1e-6
    t = tiny(xp, "lsgan", lr_G=1e-3)
    assert (t.opt_G.lr, t.opt_D.lr) == (1e-3, 2e-4) and (t.a, t.b, t.c) == (0.0, 1.0, 1.0)
    assert tiny(xp, "gan").generator_loss_name == "minimax"
    assert tiny(xp, "nsgan").generator_loss_name == "nonsaturating"


def test_recipes_name_the_papers_the_authors_and_the_default(xp):
    for loss in train.LOSSES:
        assert train.recipe(loss, "paper") == {"batch_size": 64}   # DEFAULTS as they are
        for name in train.RECIPE_NAMES:   # every recipe builds a trainer (InfoGAN's G and D
            options = train.recipe(loss, name)   # need code inputs: checked elsewhere)
            assert options.pop("batch_size") >= 1
            if loss != "infogan":
                assert tiny(xp, loss, **options).loss_name == loss
    authors = train.recipe("wgan", "authors")
    assert tiny(xp, "wgan", **{k: v for k, v in authors.items() if k != "batch_size"}).warmup
    authors = train.recipe("wgan-gp", "authors")
    assert authors == {"betas": (0.5, 0.9), "batch_size": 50}
    assert not tiny(xp, "wgan").warmup
    # the measured default: the box with a larger step and n_critic 2; a larger Adam step
    assert train.recipe("wgan") == {"lr": 2e-4, "n_critic": 2, "clip": 0.02, "ema": 0.995,
                                    "batch_size": 64}
    assert train.recipe("wgan-gp") == {"lr": 5e-4, "n_critic": 2, "ema": 0.995, "batch_size": 64}
    assert train.recipe("wgan", arch="dcgan") == train.recipe("wgan", "paper")  # MLPs only
    for loss, lr in (("nsgan", 5e-4), ("lsgan", 7e-4)):
        assert train.recipe(loss) == {"lr": lr, "ema": 0.995, "batch_size": 64}
    # on the DCGAN pair, measured for nsgan and wgan-gp: larger steps, G's own weights
    assert train.recipe("nsgan", arch="dcgan") == {"lr": 2e-3, "batch_size": 64}
    assert train.recipe("wgan-gp", arch="dcgan") == {"lr": 1e-3, "n_critic": 2,
                                                     "batch_size": 64}
    for loss in ("gan", "lsgan", "infogan"):
        assert train.recipe(loss, arch="dcgan") == train.recipe(loss, "paper")
    for arch in ("goodfellow", "infogan"):                      # recipes of their own
        assert train.recipe("nsgan", arch=arch) == train.recipe("nsgan", "paper")
    # gan trains as its paper says (it diverged at 5e-4) and samples from the average
    assert train.recipe("gan") == {"ema": 0.995, **train.recipe("gan", "paper")}
    for name in ("paper", "authors"):                           # the papers keep no average
        assert all("ema" not in train.recipe(loss, name) for loss in train.LOSSES)
    with pytest.raises(ValueError, match="recipe"):
        train.recipe("wgan", "tuned")
    with pytest.raises(ValueError, match="loss"):
        train.recipe("hinge", "paper")


@pytest.mark.parametrize("loss, overrides, match", [
    ("wgan", {"n_critic": 0}, "n_critic"),
    ("wgan", {"clip": 0}, "clip"),
    ("wgan", {"clip": -0.01}, "clip"),
    ("wgan-gp", {"lam": -1.0}, "lam"),
    ("gan", {"k": 0}, "k"),
    ("gan", {"noise": "cauchy"}, "noise"),
    ("gan", {"fake_labels": "random"}, "fake_labels"),
    ("gan", {"clip": 0.01}, "clip"),                 # an option of another algorithm
    ("gan", {"optimizer": "adagrad"}, "optimizer"),
    ("wgan", {"betas": (0.5, 0.9)}, "betas"),        # RMSProp has no betas
    ("gan", {"optimizer": "sgd", "betas": (0.5, 0.9)}, "betas"),
    ("lsgan", {"a": 1.0, "b": 1.0}, "targets"),
])
def test_bad_hyperparameters(xp, loss, overrides, match):
    with pytest.raises(ValueError, match=match):
        tiny(xp, loss, **overrides)


def test_a_count_of_the_wrong_kind_is_a_type_error(xp):
    with pytest.raises(TypeError, match="n_critic must be an integer, got 1.5"):
        tiny(xp, "wgan-gp", n_critic=1.5)


def test_unknown_loss_lists_valid_names(xp):
    G, D = tiny_models(xp)
    with pytest.raises(ValueError, match="wgan-gp.*lsgan"):
        train.make_trainer("hinge", G, D, noise_dim=NOISE_DIM)


def test_generator_input_size_checked(xp):
    G, D = tiny_models(xp)
    with pytest.raises(ValueError, match="noise_dim"):
        train.make_trainer("gan", G, D, noise_dim=NOISE_DIM + 1)
    with pytest.raises(ValueError, match="n_classes"):
        train.make_trainer("gan", G, D, noise_dim=NOISE_DIM, conditional=True, n_classes=2)


def test_fake_batch_shape_checked(xp):
    t = tiny(xp, "gan")
    with pytest.raises(ValueError, match="shape"):
        t.step(xp.zeros((4, 3), dtype=xp.float32))


# -- one full step written out by hand -----------------------------------------------------------

def test_one_nsgan_step_matches_hand_written_algorithm(xp):
    """Goodfellow et al. Alg. 1 with k = 1 and the non-saturating G loss, written out with
    the loss functions and separate real/fake passes, in float64: the trainer's step
    (concatenated batch) gives the same parameters, losses and statistics."""
    f64 = numpy.float64
    x = toy_batch(xp, dtype=f64)
    t = tiny(xp, "nsgan", dtype=f64, seed=7)
    stats = t.step(x)

    G, D = tiny_models(xp, dtype=f64)
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    rng = xp.random.default_rng(7)
    m = x.shape[0]
    # lines 3-5: one discriminator update
    x_fake = G.forward(rng.standard_normal((m, NOISE_DIM), dtype=f64))
    D.zero_grad()
    s_real = D.forward(x)
    D.backward(losses.bce_with_logits(s_real, 1.0).ds)           # -log D(x)
    s_fake = D.forward(x_fake)
    D.backward(losses.bce_with_logits(s_fake, 0.0).ds)           # -log(1 - D(G(z)))
    opt_D.step()
    d_loss = losses.gan_discriminator(s_real, s_fake).value
    # lines 7-8: one generator update, descending -log D(G(z))
    G.zero_grad()
    x_fake = G.forward(rng.standard_normal((m, NOISE_DIM), dtype=f64))
    s = D.forward(x_fake)
    g = losses.generator_loss_nonsaturating(s)
    G.backward(D.backward(g.ds_fake, param_grads=False))
    opt_G.step()

    for mine, theirs in ((snapshot(t.G), snapshot(G)), (snapshot(t.D), snapshot(D))):
        for a, b in zip(mine, theirs):
            assert float(xp.abs(a - b).max()) < 1e-12
    assert float(stats["d_loss"]) == pytest.approx(float(d_loss), rel=1e-12)
    assert float(stats["g_loss"]) == pytest.approx(float(g.value), rel=1e-12)
    assert float(stats["d_real"]) == pytest.approx(float(xp.mean(sigmoid(s_real))), rel=1e-12)
    assert float(stats["d_fake"]) == pytest.approx(float(xp.mean(sigmoid(s_fake))), rel=1e-12)


# Fixed-seed reference figures (NumPy, float32, tiny MLPs, 5 calls with k / n_critic = 2)
# for optimisation work: a faster step must reproduce them to float32 round-off.
# "dG" / "dD": sum over all parameters of |theta - theta_0| (distance travelled).
GOLDEN = {
    "gan": {"d_loss": 1.895135, "d_real": 0.3467266, "d_fake": 0.5245002, "g_loss": -0.8184482},
    "nsgan": {"d_loss": 1.894966, "d_real": 0.3467267, "d_fake": 0.5244735, "g_loss": 0.6680329},
    "wgan": {"d_loss": 0.0002479989, "wasserstein": -0.0002479989, "g_loss": -2.175177e-05},
    "wgan-gp": {"d_loss": 2.615137, "wasserstein": -0.658362, "gp": 1.956775,
                "grad_norm": 1.341811, "g_loss": 0.02106794},
    "lsgan": {"d_loss": 1.684613, "d_real": -0.6340535, "d_fake": 0.1191211, "g_loss": 0.5580915},
}

DISTANCES = {
    "gan": {"dG": 0.03318299, "dD": 0.06008396}, "nsgan": {"dG": 0.03493549, "dD": 0.06008451},
    "wgan": {"dG": 0.06944097, "dD": 0.0643456}, "wgan-gp": {"dG": 0.01697965, "dD": 0.03090985},
    "lsgan": {"dG": 0.03411411, "dD": 0.05857032},
}


def _reference_run(xp, loss):
    t = tiny(xp, loss, **schedule_override(loss, 2))
    G0, D0 = snapshot(t.G), snapshot(t.D)
    x = toy_batch(xp)
    for _ in range(5):
        stats = t.step(x)
    got = {k: float(v) for k, v in stats.items()}
    got["dG"] = sum(float(xp.abs(p - p0).sum()) for p, p0 in zip(snapshot(t.G), G0))
    got["dD"] = sum(float(xp.abs(p - p0).sum()) for p, p0 in zip(snapshot(t.D), D0))
    return got


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_fixed_seed_reference_values(xp, loss):
    if xp.__name__ != "numpy":
        pytest.skip("reference figures are for the NumPy backend (CuPy draws other numbers)")
    got = _reference_run(xp, loss)
    for k, v in GOLDEN[loss].items():
        assert got[k] == pytest.approx(v, rel=1e-4, abs=1e-9), k
    for k, v in DISTANCES[loss].items():
        assert got[k] == pytest.approx(v, rel=1e-4), k


# -- PacGAN packing --------------------------------------------------------------------------

def packed(xp, loss, m, dtype=numpy.float32, **overrides):
    rng = xp.random.default_rng(1)
    G = models.mlp_generator(NOISE_DIM, (8,), 2, activation="tanh", rng=rng, dtype=dtype)
    D = models.mlp_discriminator(2 * m, (8,), activation="tanh", rng=rng, dtype=dtype)
    return train.make_trainer(loss, G, D, noise_dim=NOISE_DIM, pack=m, **overrides)


def test_packed_discriminator_sees_m_samples_side_by_side(xp):
    """D's loss in a packed step is the loss of D on (B/m, m d) rows: samples 2i, 2i+1
    of the minibatch concatenated, real packs with real, fake with fake."""
    t = packed(xp, "nsgan", 2, dtype=numpy.float64, k=NEVER)
    x = toy_batch(xp, m=8, dtype=numpy.float64)
    before = snapshot(t.D)
    fakes = packed(xp, "nsgan", 2, dtype=numpy.float64)._generate(8, None)  # same seed
    stats = t.step(x)
    for (p, _), p0 in zip(t.D.parameters(), before):
        p[...] = p0
    rows = xp.concatenate([x[0::2], x[1::2]], axis=1)       # (4, 4): [x_0 x_1], [x_2 x_3], ...
    fake_rows = xp.concatenate([fakes[0::2], fakes[1::2]], axis=1)
    expect = losses.gan_discriminator(t.D(rows), t.D(fake_rows)).value
    assert float(stats["d_loss"]) == pytest.approx(float(expect), rel=1e-12)
    assert t.config["pack"] == 2


@pytest.mark.parametrize("loss", ["nsgan", "wgan-gp"])
def test_packed_generator_gradient(xp, loss):
    """G's gradient through the packed D equals central differences of
    L_G(theta_G) = generator_loss(D(pack(G(z)))) at a fixed z (float64)."""
    from gradcheck import assert_close, check_gradients

    t = packed(xp, loss, 3, dtype=numpy.float64)
    z = xp.random.default_rng(7).standard_normal((6, NOISE_DIM))
    t.sample_noise = lambda m, rng=None: z                  # the update's noise, fixed
    before = snapshot(t.G)
    t.generator_step(6, None)                               # G.grads hold dL_G/dtheta_G
    for (p, _), p0 in zip(t.G.parameters(), before):        # and G goes back to that point
        p[...] = p0
    analytic = {n: g.copy() for n, _, g in t.G.named_parameters()}

    def objective():
        return t.generator_loss(t.D(t._d_input(t.G(z), None))).value

    arrays = {n: p for n, p, _ in t.G.named_parameters()}
    assert_close(check_gradients(objective, arrays, analytic))


def test_packing_errors(xp):
    t = packed(xp, "wgan-gp", 3)
    with pytest.raises(ValueError, match="not a multiple of pack = 3"):
        t.step(toy_batch(xp, m=16))
    stats = t.step(toy_batch(xp, m=18))
    assert numpy.isfinite(float(stats["gp"]))
    with pytest.raises(ValueError, match="pack > 1 .* unconditional"):
        tiny(xp, "nsgan", conditional=True, pack=2)
    with pytest.raises(ValueError, match="pack must be an integer >= 1"):
        tiny(xp, "nsgan", pack=0)
