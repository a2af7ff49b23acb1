"""InfoGAN (Chen et al. 2016): the Gaussian NLL, L_info on D's output columns, the D/Q and
G updates against central differences (float64, tanh MLPs so second derivatives are not
zero), sampling with chosen codes, the code-to-class matching and the main job's option."""
import math

import numpy
import pytest

from gradcheck import assert_close, check_gradients
from tinygan import losses, models, nn, train
from tinygan.metrics import code_class_accuracy

NOISE, K, N_CONT, D_IN = 3, 4, 2, 5


def gaussian_codes_trainer(xp, dtype=numpy.float64, q_layers=False, **overrides):
    """Tanh MLPs; ``q_layers``: Qn with a hidden layer of its own on D's body (nn.Heads,
    as in models.infogan_discriminator) instead of sharing D's last layer."""
    rng = xp.random.default_rng(11)
    G = models.mlp_generator(NOISE + K + N_CONT, (8,), D_IN, activation="tanh", rng=rng,
                             dtype=dtype)
    D = models.mlp_discriminator(D_IN, (8,), activation="tanh", rng=rng, dtype=dtype,
                                 out_dim=1 + K + N_CONT)
    if q_layers:
        body = D.layers[:-1]
        D = nn.Sequential(*body, nn.Heads(
            nn.Linear(8, 1, rng=rng, dtype=dtype),
            nn.Sequential(nn.Linear(8, 6, rng=rng, dtype=dtype), nn.Tanh(),
                          nn.Linear(6, K + N_CONT, rng=rng, dtype=dtype)))).flatten()
    return train.make_trainer("infogan", G, D, noise_dim=NOISE, n_cat=K, n_cont=N_CONT,
                              lambda_cont=0.5, seed=3, **overrides)


def test_gaussian_nll_value_and_gradient(xp, rng):
    mu, c = rng.standard_normal((5, 3)), rng.uniform(-1, 1, (5, 3))
    out = losses.gaussian_nll(mu, c, sigma=0.7)
    naive = float(xp.mean(xp.sum((c - mu) ** 2 / (2 * 0.49) + math.log(0.7)
                                 + 0.5 * math.log(2 * math.pi), axis=1)))
    assert float(out.value) == pytest.approx(naive, rel=1e-12)
    assert_close(check_gradients(lambda: losses.gaussian_nll(mu, c, sigma=0.7).value,
                                 {"mu": mu}, {"mu": out.dmu}))
    with pytest.raises(ValueError, match="same shape"):
        losses.gaussian_nll(mu, c[:, :2])


def _fix_draws(xp, t, m):
    """Freeze the trainer's z and codes so the objective is a function of the weights."""
    r = xp.random.default_rng(21)
    z, c_cat = r.standard_normal((m, NOISE)), r.integers(0, K, size=m)
    c_cont = r.uniform(-1, 1, (m, N_CONT))
    t.sample_noise = lambda m_, rng=None: z
    t.sample_codes = lambda m_, rng=None: (c_cat, c_cont)
    return t.generator_input(z, c_cat, c_cont), c_cat, c_cont


def test_info_loss_gradient_on_the_q_columns(xp, rng):
    t = gaussian_codes_trainer(xp)
    out = rng.standard_normal((6, 1 + K + N_CONT))
    c_cat, c_cont = rng.integers(0, K, size=6), rng.uniform(-1, 1, (6, N_CONT))
    value, d_out, ce = t.info_loss(out, c_cat, c_cont)
    assert float(xp.abs(d_out[:, 0]).max()) == 0.0          # D's logit is not Q's
    assert_close(check_gradients(lambda: t.info_loss(out, c_cat, c_cont)[0],
                                 {"out": out}, {"out": d_out}))
    expect = losses.softmax_cross_entropy(out[:, 1:1 + K], c_cat).value \
        + 0.5 * losses.gaussian_nll(out[:, 1 + K:], c_cont).value
    assert float(value) == pytest.approx(float(expect), rel=1e-12)


@pytest.mark.parametrize("q_layers", [False, True], ids=["shared", "q_layers"])
def test_discriminator_and_q_update_gradient(xp, q_layers):
    """D's grads after discriminator_step = d/dtheta_D [L_D + L_info] at the fixed fakes."""
    t = gaussian_codes_trainer(xp, q_layers=q_layers)
    g_in, c_cat, c_cont = _fix_draws(xp, t, 6)
    x_real = xp.random.default_rng(5).standard_normal((6, D_IN))
    before = [p.copy() for p, _ in t.D.parameters()]
    t.discriminator_step(x_real, None)
    for (p, _), p0 in zip(t.D.parameters(), before):
        p[...] = p0
    x_fake = t.G(g_in)

    def objective():
        out_r, out_f = t.D(x_real), t.D(x_fake)
        return (losses.gan_discriminator(out_r[:, :1], out_f[:, :1]).value
                + t.info_loss(out_f, c_cat, c_cont)[0])

    arrays = {n: p for n, p, _ in t.D.named_parameters()}
    analytic = {n: g.copy() for n, _, g in t.D.named_parameters()}
    assert_close(check_gradients(objective, arrays, analytic))


@pytest.mark.parametrize("q_layers", [False, True], ids=["shared", "q_layers"])
def test_generator_update_gradient(xp, q_layers):
    """G's grads after generator_step = d/dtheta_G [-log D(G(z, c)) + L_info] (D, Q fixed)."""
    t = gaussian_codes_trainer(xp, q_layers=q_layers)
    g_in, c_cat, c_cont = _fix_draws(xp, t, 6)
    before = [p.copy() for p, _ in t.G.parameters()]
    value = t.generator_step(6, None)
    for (p, _), p0 in zip(t.G.parameters(), before):
        p[...] = p0

    def objective():
        out = t.D(t.G(g_in))
        return (losses.generator_loss_nonsaturating(out[:, :1]).value
                + t.info_loss(out, c_cat, c_cont)[0])

    assert float(value) == pytest.approx(float(objective()), rel=1e-12)
    arrays = {n: p for n, p, _ in t.G.named_parameters()}
    analytic = {n: g.copy() for n, _, g in t.G.named_parameters()}
    assert_close(check_gradients(objective, arrays, analytic))


def test_steps_statistics_sampling_and_errors(xp):
    t = gaussian_codes_trainer(xp, dtype=numpy.float32)
    x = xp.random.default_rng(0).standard_normal((8, D_IN), dtype=numpy.float32)
    for _ in range(3):
        stats = t.step(x)
    assert set(stats) == {"d_loss", "g_loss", "d_real", "d_fake", "info", "mi_cat"}
    assert float(stats["mi_cat"]) <= math.log(K) + 1e-6
    z = t.sample_noise(5)
    a = t.sample(z=z, c_cat=xp.asarray([0, 1, 2, 3, 0]), c_cont=xp.zeros((5, N_CONT)))
    b = t.sample(z=z)                                     # default codes: i % K, 0
    assert a.shape == (5, D_IN) and bool(xp.all(a == b))
    assert t.sample(n=7).shape == (7, D_IN)
    with pytest.raises(ValueError, match="D must output"):
        rng = xp.random.default_rng(1)
        G = models.mlp_generator(NOISE + K + N_CONT, (4,), D_IN, rng=rng)
        bad = train.make_trainer("infogan", G, models.mlp_discriminator(D_IN, (4,), rng=rng),
                                 noise_dim=NOISE, n_cat=K, n_cont=N_CONT)
        bad.step(x)
    with pytest.raises(ValueError, match="unconditional"):
        gaussian_codes_trainer(xp, conditional=True)


def test_code_class_accuracy_uses_the_best_one_to_one_match():
    # codes 0..3 map to classes 2, 0, 3, 1 except for a few confusions
    codes = numpy.repeat(numpy.arange(4), 10)
    classes = numpy.array([2, 0, 3, 1])[codes]
    classes[[0, 11, 25]] = [1, 1, 0]
    result = code_class_accuracy(codes, classes, n_codes=4, n_classes=4)
    assert result.accuracy == pytest.approx(37 / 40)
    assert list(result.assignment) == [2, 0, 3, 1]
    # a majority vote that maps two codes to one class is not a one-to-one match
    codes = numpy.array([0, 0, 1, 1, 1])
    classes = numpy.array([0, 0, 0, 0, 1])
    result = code_class_accuracy(codes, classes, n_codes=2, n_classes=2)
    assert list(result.assignment) == [0, 1] and result.accuracy == pytest.approx(3 / 5)


def test_min_cost_assignment_equals_brute_force():
    import itertools

    from tinygan.metrics import min_cost_assignment

    rng = numpy.random.default_rng(4)
    for n in (1, 2, 5, 6):
        for _ in range(5):
            cost = rng.integers(0, 20, size=(n, n)).astype(float)
            rows = min_cost_assignment(cost)
            assert sorted(rows) == list(range(n))
            best = min(sum(cost[i, p[i]] for i in range(n))
                       for p in itertools.permutations(range(n)))
            assert sum(cost[i, rows[i]] for i in range(n)) == best
