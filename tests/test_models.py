"""Model builders: shapes, ranges, dtypes, initialisation, label joining and its
gradient (the backward of the concatenation is the split)."""
import numpy
import pytest

from tinygan import lipschitz, models, nn
from gradcheck import numeric_gradient, rel_error


def _one_hot(xp, labels, k, dtype=numpy.float32):
    return xp.eye(k, dtype=dtype)[xp.asarray(labels)]


# -- MLPs -----------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["leakyrelu", "relu", "tanh"])
def test_mlp_shapes_range_dtype(xp, rng, activation):
    G = models.mlp_generator(noise_dim=6, hidden=(8, 12), out_dim=5, activation=activation)
    D = models.mlp_discriminator(in_dim=5, hidden=(12, 8), activation=activation)
    z = rng.standard_normal((7, 6), dtype=xp.float32) * 10    # large inputs: tanh saturates
    x_fake = G(z)
    assert x_fake.shape == (7, 5) and x_fake.dtype == xp.float32
    assert float(xp.abs(x_fake).max()) <= 1.0
    s = D(x_fake)
    assert s.shape == (7, 1) and s.dtype == xp.float32
    assert isinstance(G[-1], nn.Tanh) and isinstance(D[-1], nn.Linear)   # logits, no sigmoid
    assert [type(layer).__name__ for layer in D.layers].count("Linear") == 3


def test_mlp_conditional_input_sizes(xp, rng):
    G = models.mlp_generator(noise_dim=4, hidden=(8,), out_dim=3, n_classes=10)
    D = models.mlp_discriminator(in_dim=3, hidden=(8,), n_classes=10)
    assert G[0].n_in == 14 and D[0].n_in == 13
    y = _one_hot(xp, [0, 3, 9], 10)
    x_fake = G(models.join_label(rng.standard_normal((3, 4), dtype=xp.float32), y))
    assert D(models.join_label(x_fake, y)).shape == (3, 1)


def test_mlp_he_initialisation(xp):
    rng = xp.random.default_rng(0)
    D = models.mlp_discriminator(in_dim=400, hidden=(300,), rng=rng)
    w = D[0].params["W"]
    assert abs(float(w.std()) - (2 / 400) ** 0.5) < 0.05 * (2 / 400) ** 0.5
    assert float(xp.abs(D[0].params["b"]).max()) == 0.0


def test_mlp_float64(xp, rng):
    G = models.mlp_generator(3, (4,), 2, dtype=xp.float64)
    assert G(rng.standard_normal((2, 3))).dtype == xp.float64


@pytest.mark.parametrize("kwargs", [dict(noise_dim=0), dict(hidden=()), dict(hidden=(4, 0)),
                                    dict(out_dim=-1), dict(n_classes=-1), dict(activation="elu"),
                                    dict(noise_dim=2.5)])
def test_mlp_bad_arguments(xp, kwargs):
    with pytest.raises(ValueError):
        models.mlp_generator(**kwargs)


# -- label joining ----------------------------------------------------------------------

def test_join_label_features(xp, rng):
    x = rng.standard_normal((3, 2), dtype=xp.float32)
    y = _one_hot(xp, [1, 0, 2], 3)
    joined = models.join_label(x, y)
    assert joined.shape == (3, 5) and joined.dtype == xp.float32
    assert bool(xp.all(joined[:, :2] == x)) and bool(xp.all(joined[:, 2:] == y))
    assert bool(xp.all(models.split_input_grad(joined, 2) == x))


def test_join_label_images(xp, rng):
    x = rng.standard_normal((2, 1, 4, 5), dtype=xp.float32)
    y = _one_hot(xp, [2, 0], 3)
    joined = models.join_label(x, y)
    assert joined.shape == (2, 4, 4, 5)
    assert bool(xp.all(joined[:, :1] == x))
    # channel 1 + j is the constant map y_j
    assert bool(xp.all(joined[0, 3] == 1)) and bool(xp.all(joined[0, 1:3] == 0))
    assert bool(xp.all(joined[1, 1] == 1)) and bool(xp.all(joined[1, 2:] == 0))
    assert joined.flags.c_contiguous


def test_join_label_casts_label_dtype(xp, rng):
    x = rng.standard_normal((2, 3))                    # float64
    joined = models.join_label(x, _one_hot(xp, [0, 1], 2))   # float32 labels
    assert joined.dtype == xp.float64


@pytest.mark.parametrize("x_shape, y_shape", [((3, 2), (2, 4)), ((3, 2), (3,)), ((3,), (3, 2)),
                                              ((3, 1, 2), (3, 2))])
def test_join_label_bad_shapes(xp, x_shape, y_shape):
    with pytest.raises(ValueError):
        models.join_label(xp.zeros(x_shape, dtype=xp.float32), xp.zeros(y_shape, dtype=xp.float32))


def test_label_mask(xp):
    m = models.label_mask((5, 7), 4, xp=xp)
    assert m.shape == (1, 7) and float(m.sum()) == 4 and float(m[0, :4].min()) == 1
    m = models.label_mask((5, 3, 6, 6), 1, xp=xp)
    assert m.shape == (1, 3, 1, 1) and float(m[0, 0, 0, 0]) == 1 and float(m[0, 1:].sum()) == 0


@pytest.mark.parametrize("image", [False, True], ids=["mlp", "conv"])
def test_conditional_input_gradient(xp, rng, image):
    """d/dx of sum(dy * D(join_label(x, y))) is split_input_grad(D.backward(dy), d): the
    backward of the concatenation is the split (float64 central differences)."""
    k = 3
    if image:
        D = nn.Sequential(nn.Conv2d(1 + k, 2, 3, stride=2, padding=1, init="he"), nn.Tanh(),
                          nn.Flatten(), nn.Linear(2 * 3 * 3, 1)).astype(xp.float64)
        x = rng.standard_normal((2, 1, 5, 5))
    else:
        D = models.mlp_discriminator(in_dim=4, hidden=(5,), n_classes=k, activation="tanh",
                                     dtype=xp.float64)
        x = rng.standard_normal((2, 4))
    y = _one_hot(xp, [2, 0], k, dtype=xp.float64)
    dy = rng.standard_normal((2, 1))
    D.forward(models.join_label(x, y))
    dx = models.split_input_grad(D.backward(dy, param_grads=False), x.shape[1])
    numeric = numeric_gradient(lambda: xp.sum(dy * D.forward(models.join_label(x, y))), x)
    assert dx.shape == x.shape
    assert rel_error(dx, numeric) < 1e-6


# -- DCGAN and the WGAN-GP conv critic ---------------------------------------------------

@pytest.mark.parametrize("n_classes", [0, 10])
def test_dcgan_shapes_and_range(xp, rng, n_classes):
    G = models.dcgan_generator(noise_dim=8, n_classes=n_classes, width=4)
    D = models.dcgan_discriminator(n_classes=n_classes, width=4)
    z = rng.standard_normal((3, 8 + n_classes), dtype=xp.float32) * 5
    x_fake = G(z)
    assert x_fake.shape == (3, 1, 28, 28) and x_fake.dtype == xp.float32
    assert float(xp.abs(x_fake).max()) <= 1.0
    if n_classes:
        x_fake = models.join_label(x_fake, _one_hot(xp, [0, 5, 9], n_classes))
    s = D(x_fake)
    assert s.shape == (3, 1) and s.dtype == xp.float32


def test_dcgan_default_sizes():
    """The contract's architecture at its default width (no forward: just the layers)."""
    G = models.dcgan_generator()
    assert G[0].params["W"].shape == (100, 128 * 7 * 7)
    assert G[4].params["W"].shape == (128, 64, 4, 4) and G[7].params["W"].shape == (64, 1, 4, 4)
    D = models.dcgan_discriminator()
    assert D[0].params["W"].shape == (64, 1, 4, 4) and D[2].params["W"].shape == (128, 64, 4, 4)
    assert D[-1].params["W"].shape == (128 * 7 * 7, 1)


def test_dcgan_batchnorm_placement():
    """Radford et al. sec. 3: BatchNorm in G except its output, in D except its input
    layer; ``batchnorm=False`` gives a critic fit for the gradient penalty."""
    G = models.dcgan_generator(width=4)
    assert [type(layer).__name__ for layer in G.layers] == [
        "Linear", "BatchNorm", "ReLU", "Reshape", "ConvTranspose2d", "BatchNorm", "ReLU",
        "ConvTranspose2d", "Tanh"]
    D = models.dcgan_discriminator(width=4)
    names = [type(layer).__name__ for layer in D.layers]
    assert names == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm", "LeakyReLU", "Flatten", "Linear"]
    assert D[1].alpha == 0.2 and D.mixes_samples
    # layers feeding BatchNorm carry no bias (beta replaces it)
    assert "b" not in G[0].params and "b" not in G[4].params and "b" not in D[2].params
    D_nobn = models.dcgan_discriminator(batchnorm=False, width=4)
    assert "BatchNorm" not in [type(layer).__name__ for layer in D_nobn.layers]
    assert not D_nobn.mixes_samples and "b" in D_nobn[2].params


def test_infogan_networks_follow_the_paper(xp, rng):
    """Chen et al. 2016, appendix C.1: G FC 1024 - FC 7x7x128 - upconv 64 - upconv 1, all
    but the output with BatchNorm; D conv 64 - conv 128 (BatchNorm) - FC 1024 (BatchNorm),
    LeakyReLU 0.1, then D's logit and Qn's own FC 128 (BatchNorm) beside it."""
    G = models.infogan_generator(62 + 12)
    assert [type(layer).__name__ for layer in G.layers] == [
        "Linear", "BatchNorm", "ReLU", "Linear", "BatchNorm", "ReLU", "Reshape",
        "ConvTranspose2d", "BatchNorm", "ReLU", "ConvTranspose2d", "Tanh"]
    assert G[0].params["W"].shape == (74, 1024) and G[3].params["W"].shape == (1024, 6272)
    D = models.infogan_discriminator(n_cat=10, n_cont=2)
    assert [type(layer).__name__ for layer in D.layers] == [
        "Conv2d", "LeakyReLU", "Conv2d", "BatchNorm", "LeakyReLU", "Flatten", "Linear",
        "BatchNorm", "LeakyReLU", "Heads"]
    assert D[1].alpha == 0.1 and D.mixes_samples
    d_head, q_head = D[-1].heads
    assert d_head.params["W"].shape == (1024, 1)
    assert [type(layer).__name__ for layer in q_head.layers] == [
        "Linear", "BatchNorm", "LeakyReLU", "Linear"]
    assert q_head[-1].params["W"].shape == (128, 12)
    assert "b" not in G[0].params and "b" not in D[2].params and "b" not in q_head[0].params
    x = G(rng.standard_normal((3, 74), dtype=xp.float32))
    assert x.shape == (3, 1, 28, 28) and float(xp.abs(x).max()) <= 1.0
    out = D(x)
    assert out.shape == (3, 13) and out.dtype == xp.float32
    with pytest.raises(ValueError, match="n_cont"):
        models.infogan_discriminator(n_cont=-1)


def test_dcgan_spectral_norm_discriminator(xp, rng):
    """SN-GAN: every weight layer spectrally normalised, no BatchNorm, so the critic
    takes the gradient penalty; asking for BatchNorm as well is refused."""
    D = models.dcgan_discriminator(spectral_norm=True, width=2, rng=rng)
    names = [type(layer).__name__ for layer in D.layers]
    assert names == ["SpectralNormConv2d", "LeakyReLU", "SpectralNormConv2d", "LeakyReLU",
                     "Flatten", "SpectralNormLinear"]
    assert not D.mixes_samples and "b" in D[2].params
    assert set(D.state_dict()) >= {"0.u", "0.v", "2.u", "5.v"}
    x = rng.standard_normal((3, 1, 28, 28), dtype=xp.float32)
    D.zero_grad()
    gp = lipschitz.gradient_penalty(D, x, lam=10.0)
    assert float(gp.value) >= 0 and float(xp.abs(D[0].grads["W"]).sum()) > 0
    with pytest.raises(ValueError, match="spectral_norm=True replaces BatchNorm"):
        models.dcgan_discriminator(batchnorm=True, spectral_norm=True)


def test_dcgan_initialisation(xp):
    """Weights N(0, 0.02^2) (Radford et al. sec. 4), BatchNorm gamma N(1, 0.02^2)."""
    G = models.dcgan_generator(rng=xp.random.default_rng(3))
    w = G[0].params["W"]
    assert abs(float(w.mean())) < 1e-3 and abs(float(w.std()) - 0.02) < 1e-3
    assert abs(float(G[4].params["W"].std()) - 0.02) < 1e-3
    gamma = G[1].params["gamma"]
    assert abs(float(gamma.mean()) - 1) < 1e-3 and abs(float(gamma.std()) - 0.02) < 2e-3
    assert float(xp.abs(G[1].params["beta"]).max()) == 0.0


@pytest.mark.parametrize("n_classes", [0, 2])
def test_wgangp_conv_critic(xp, rng, n_classes):
    C = models.wgangp_conv_critic(n_classes=n_classes, width=2)
    convs = [layer for layer in C.layers if isinstance(layer, nn.Conv2d)]
    assert [layer.params["W"].shape[2] for layer in convs] == [5, 5, 5]
    assert not C.mixes_samples
    x = rng.standard_normal((2, 1 + n_classes, 28, 28), dtype=xp.float32)
    assert C(x).shape == (2, 1)
    C.zero_grad()
    gp = lipschitz.gradient_penalty(C, x, lam=10.0)
    assert float(gp.value) >= 0 and float(xp.abs(C[0].grads["W"]).sum()) > 0


def test_dcgan_bad_arguments():
    with pytest.raises(ValueError):
        models.dcgan_generator(noise_dim=0)
    with pytest.raises(ValueError):
        models.dcgan_discriminator(n_classes=-2)


# -- PacGAN's 2-D mixture pair ------------------------------------------------------------

def test_pacgan_toy_models_follow_the_released_code(xp):
    """G: 4 x [Linear (no bias), BatchNorm, ReLU] of 400 and a linear output; D: 3 x
    [Linear, Maxout(200, 5)] and a linear logit, 2 m inputs for packs of m; N(0, 0.02^2)."""
    rng = xp.random.default_rng(0)
    G = models.pacgan_toy_generator(rng=rng)
    D = models.pacgan_toy_discriminator(in_dim=8, rng=rng)
    assert [type(l).__name__ for l in G.layers] == ["Linear", "BatchNorm", "ReLU"] * 4 + ["Linear"]
    assert [l.params["W"].shape for l in G.layers if "W" in l.params] == [
        (2, 400), (400, 400), (400, 400), (400, 400), (400, 2)]
    assert all("b" not in l.params for l in G.layers[:-1:3]) and "b" in G[-1].params
    assert all(l.momentum == 0.05 for l in G.layers if isinstance(l, nn.BatchNorm))
    assert [l.params["W"].shape for l in D.layers if "W" in l.params] == [
        (8, 1000), (200, 1000), (200, 1000), (200, 1)]
    assert [(l.units, l.pieces) for l in D.layers if isinstance(l, nn.Maxout)] == [(200, 5)] * 3
    w = G[3].params["W"]
    assert abs(float(w.std()) - 0.02) < 0.001
    x = G(rng.standard_normal((6, 2), dtype=xp.float32))     # no tanh: grid25 spans [-4, 4]^2
    assert x.shape == (6, 2) and x.dtype == xp.float32 and not isinstance(G[-1], nn.Tanh)
    packs = xp.concatenate([x[:3], x[3:], x[:3], x[3:]], axis=1)      # 3 packs of 4 samples
    assert D(packs).shape == (3, 1)
    with pytest.raises(ValueError, match="pacgan_toy_discriminator"):
        models.pacgan_toy_discriminator(pieces=0)
