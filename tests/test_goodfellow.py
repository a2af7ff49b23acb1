"""Goodfellow et al. 2014's MNIST recipe: the simultaneous D/G update through the
dropped-out maxout D (its gradients against central differences), the models, the
schedules, uniform noise, the data split, and a short real run of the recipe."""
import math

import numpy
import pytest

from tinygan import losses, models, optim
from gradcheck import numeric_gradient, rel_error
from tinygan.train import make_trainer


def _small_pair(xp, seed=0):
    """A float64 G (ReLU, sigmoid out) and maxout D with dropout, small enough to check."""
    rng = xp.random.default_rng(seed)
    x_marg = rng.random((20, 12))
    G = models.goodfellow_generator(noise_dim=3, hidden=5, out_dim=12, marginals_of=x_marg,
                                    irange=0.5, rng=rng).astype(xp.float64)
    D = models.goodfellow_discriminator(in_dim=12, units=3, pieces=2, irange=0.5, seed=seed,
                                        rng=rng).astype(xp.float64)
    return G, D


def test_simultaneous_step_gradients(xp):
    """After one simultaneous step D's grads are d(c L_D)/dtheta_D and G's are
    dL_G/dtheta_G, both at the parameters before the update and through the same dropout
    masks and noise: checked against central differences of those two objectives."""
    G, D = _small_pair(xp)
    trainer = make_trainer("nsgan", G, D, noise_dim=3, optimizer="sgd", lr=0.1, momentum=0.5,
                           noise="uniform_sqrt3", update="simultaneous", d_loss_scale=0.5)
    x_real = xp.random.default_rng(5).random((4, 12))
    drawn = []
    sample_noise = trainer.sample_noise
    trainer.sample_noise = lambda m, rng=None: drawn.append(sample_noise(m, rng)) or drawn[-1]
    dropouts = [layer for layer in D.layers if hasattr(layer, "draws")]
    before = {id(p): p.copy() for p, _ in G.parameters() + D.parameters()}
    trainer.step(x_real)
    for p, _ in G.parameters() + D.parameters():      # back to the point the grads belong to
        p[...] = before[id(p)]
    z = drawn[0]

    def scores():
        for layer in dropouts:                        # the step's two draws: real, then fake
            layer.draws = 0
        s_real = D.forward(x_real)
        return s_real, D.forward(G.forward(z))

    def d_objective():
        s_real, s_fake = scores()
        return 0.5 * losses.gan_discriminator(s_real, s_fake).value

    def g_objective():
        return losses.generator_loss_nonsaturating(scores()[1]).value

    for p, g in D.parameters():
        assert rel_error(g, numeric_gradient(d_objective, p)) < 1e-6
    for p, g in G.parameters():
        assert rel_error(g, numeric_gradient(g_objective, p)) < 1e-6
    assert trainer.g_steps == trainer.d_steps == 1


def test_exponential_decay_is_pylearn2s():
    """lr of update t = 0.1 / 1.000004^(t - 1), floored at the minimum."""
    s = optim.ExponentialDecay(0.1, 1.000004, 1e-6)
    assert s(1) == 0.1
    assert s(2) == pytest.approx(0.1 / 1.000004, rel=1e-14)
    assert s(250_001) == pytest.approx(0.1 / 1.000004 ** 250_000, rel=1e-12)   # 500 epochs
    assert s(10 ** 8) == 1e-6
    with pytest.raises(ValueError, match="factor must be >= 1"):
        optim.ExponentialDecay(0.1, 0.9)


def test_linear_ramp_is_pylearn2s_momentum_adjustor():
    """MomentumAdjustor(start=1, saturate=250, final .7) from .5, 500 updates per epoch:
    epoch e trains with .5 + .2 (e - 1) / 249, then .7 from epoch 250 on."""
    s = optim.LinearRamp(0.5, 0.7, 1, 250, steps_per_epoch=500)
    assert s(1) == s(500) == 0.5                                  # epoch 1
    assert s(501) == pytest.approx(0.5 + 0.2 / 249)               # epoch 2
    assert s(125 * 500 + 1) == pytest.approx(0.5 + 0.2 * 125 / 249)
    assert s(249 * 500 + 1) == pytest.approx(0.7) == s(10 ** 7)   # epoch 250 and after
    with pytest.raises(ValueError, match="must come after"):
        optim.LinearRamp(0.5, 0.7, 5, 5, 10)


def test_schedules_attach_to_any_optimizer_and_follow_the_step_count(xp):
    p = xp.zeros(3, dtype=xp.float32)
    g = xp.ones(3, dtype=xp.float32)
    adam = optim.Adam([(p, g)], lr=1.0)
    adam.attach("lr", optim.ExponentialDecay(1e-3, 2.0))
    adam.attach("beta1", optim.LinearRamp(0.0, 0.5, 1, 2, steps_per_epoch=1))
    seen = []
    for _ in range(3):
        adam.step()
        seen.append((adam.lr, adam.beta1))
    assert seen == [(1e-3, 0.0), (5e-4, 0.5), (2.5e-4, 0.5)]
    sgd = optim.SGD([(xp.zeros(2, dtype=xp.float32), xp.ones(2, dtype=xp.float32))], lr=0.1)
    sgd.attach("momentum", optim.LinearRamp(0.5, 0.7, 1, 3, steps_per_epoch=1))
    state = sgd.state_dict()
    sgd.step(); sgd.step()
    assert sgd.momentum == pytest.approx(0.6)
    sgd.load_state_dict(state)                  # back to t = 0: the schedule restarts too
    sgd.step()
    assert sgd.momentum == 0.5
    with pytest.raises(ValueError, match="no hyperparameter 'nesterov'"):
        sgd.attach("nesterov", optim.ExponentialDecay(1.0, 1.0))
    with pytest.raises(TypeError, match="Schedule"):
        sgd.attach("lr", lambda t: 0.1)


def test_uniform_sqrt3_noise_has_unit_variance(xp):
    G, D = _small_pair(xp)
    trainer = make_trainer("nsgan", G, D, noise_dim=3, noise="uniform_sqrt3")
    z = trainer.sample_noise(20000)
    assert z.dtype == xp.float64 and z.shape == (20000, 3)
    assert -math.sqrt(3) <= float(z.min()) < -1.7 and 1.7 < float(z.max()) <= math.sqrt(3)
    assert abs(float(z.var()) - 1) < 0.03 and abs(float(z.mean())) < 0.02


def test_goodfellow_models_follow_the_yaml(xp):
    rng = xp.random.default_rng(0)
    x = (rng.random((50, 784)) < 0.2).astype(xp.float32)
    x[:, 0] = 0                                                  # a pixel never on
    G = models.goodfellow_generator(marginals_of=x, rng=rng)
    D = models.goodfellow_discriminator(rng=rng)
    W0, W_out, b_out = G[0].params["W"], G[4].params["W"], G[4].params["b"]
    assert W0.shape == (100, 1200) and W_out.shape == (1200, 784)
    assert 0.049 < float(abs(W0).max()) <= 0.05                   # irange .05
    p = xp.clip(x.astype(xp.float64).mean(axis=0), 1e-7, 1 - 1e-7)
    assert float(abs(1 / (1 + xp.exp(-b_out.astype(xp.float64))) - p).max()) < 1e-5
    assert float(b_out[0]) < -15                                  # logit(1e-7)
    shapes = [layer.params["W"].shape for layer in D.layers if "W" in layer.params]
    assert shapes == [(784, 1200), (240, 1200), (240, 1)]
    assert 0.0049 < float(abs(D[1].params["W"]).max()) <= 0.005   # irange .005
    drops = [(l.include_prob, l.scale) for l in D.layers if isinstance(l, type(D[0]))]
    assert drops == [(0.8, 1.25), (0.5, 2.0), (0.5, 2.0)]
    assert len({l.seed for l in D.layers if hasattr(l, "draws")}) == 3
    y = G.forward(xp.zeros((2, 100), dtype=xp.float32))
    assert y.shape == (2, 784) and float(y.min()) >= 0 and float(y.max()) <= 1
    D.eval()
    s = D.forward(y)
    assert s.shape == (2, 1) and bool(xp.all(D.forward(y) == s))  # no dropout in eval
    with pytest.raises(ValueError, match=r"expected data in \[0, 1\]"):
        models.sigmoid_bias_from_marginals(x - 1)


def test_sequential_skips_dx_below_parameter_free_first_layers(xp):
    """D's first layer is its input dropout: Linear above it need not form dL/dx when the
    caller does not want it (the D update), and still does when it does (the G update)."""
    D = models.goodfellow_discriminator(in_dim=6, units=2, pieces=2)
    calls = []
    first = D[1]
    original = first._input_grad
    first._input_grad = lambda dy: calls.append(1) or original(dy)
    x = xp.ones((3, 6), dtype=xp.float32)
    s = D.forward(x)
    assert D.backward(xp.ones_like(s), need_dx=False) is None and calls == []
    D.forward(x)
    assert D.backward(xp.ones_like(s)).shape == (3, 6) and calls == [1]


def test_mnist_in_the_unit_range(mnist_dir):
    from tinygan.data import load_mnist
    x, _ = load_mnist("test", data_dir=mnist_dir, value_range=(0, 1))
    x_tanh, _ = load_mnist("test", data_dir=mnist_dir)
    assert x.dtype == numpy.float32 and x.min() == 0 and x.max() == 1
    assert numpy.allclose(x * 2 - 1, x_tanh, atol=1e-6)
    with pytest.raises(ValueError, match="value_range .*expected one of"):
        load_mnist("test", data_dir=mnist_dir, value_range=(0, 255))
