"""Conv2d and ConvTranspose2d: forward values against naive loops, the adjoint relation,
gradient checks (input and every parameter), the second-order pair, dtypes, shapes."""
import numpy
import pytest

from tinygan import nn
from tinygan.backend import to_numpy
from gradcheck import (assert_close, check_jvp, check_jvp_backward, check_layer,
                               rel_error)

STRIDE_PAD = [(1, 0), (1, 1), (2, 0), (2, 1)]
SP_IDS = ["s1p0", "s1p1", "s2p0", "s2p1"]


# -- naive references (host NumPy, explicit loops: obviously right, slow) -------------
def naive_conv2d(x, W, b, stride, padding):
    """y[n,f,h,w] = b[f] + sum_{c,i,j} W[f,c,i,j] x_pad[n, c, s h + i, s w + j]."""
    x, W, b = to_numpy(x), to_numpy(W), to_numpy(b)
    n, c, h, w = x.shape
    f, _, kh, kw = W.shape
    xp_ = numpy.zeros((n, c, h + 2 * padding, w + 2 * padding))
    xp_[:, :, padding:padding + h, padding:padding + w] = x
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    y = numpy.zeros((n, f, ho, wo))
    for a in range(n):
        for o in range(f):
            for r in range(ho):
                for q in range(wo):
                    patch = xp_[a, :, r * stride:r * stride + kh, q * stride:q * stride + kw]
                    y[a, o, r, q] = numpy.sum(patch * W[o]) + b[o]
    return y


def naive_conv_transpose2d(x, W, b, stride, padding, output_padding):
    """Scatter: each input pixel x[n,c,h,w] adds x W[c] into the output window at
    (s h - p, s w - p); the padded border is cropped."""
    x, W, b = to_numpy(x), to_numpy(W), to_numpy(b)
    n, c, h, w = x.shape
    _, f, kh, kw = W.shape
    hf, wf = (h - 1) * stride + kh + output_padding, (w - 1) * stride + kw + output_padding
    full = numpy.zeros((n, f, hf, wf))
    for a in range(n):
        for ch in range(c):
            for r in range(h):
                for q in range(w):
                    full[a, :, r * stride:r * stride + kh, q * stride:q * stride + kw] += (
                        x[a, ch, r, q] * W[ch])
    y = full[:, :, padding:hf - padding, padding:wf - padding]
    return y + b[None, :, None, None]


def _conv(xp, c_in=2, c_out=3, k=3, stride=1, padding=0):
    layer = nn.Conv2d(c_in, c_out, k, stride, padding, init="he").astype(xp.float64)
    layer.params["b"][...] = xp.arange(c_out) * 0.1 - 0.1  # non-zero bias is checked too
    return layer


def _convt(xp, c_in=3, c_out=2, k=3, stride=1, padding=0, output_padding=0):
    layer = nn.ConvTranspose2d(c_in, c_out, k, stride, padding, output_padding,
                               init="he").astype(xp.float64)
    layer.params["b"][...] = xp.arange(c_out) * 0.1 - 0.05
    return layer


# -- forward values -----------------------------------------------------------------
@pytest.mark.parametrize("stride,padding", STRIDE_PAD, ids=SP_IDS)
def test_conv2d_matches_naive_loop(xp, rng, stride, padding):
    layer = _conv(xp, stride=stride, padding=padding)
    x = rng.standard_normal((2, 2, 7, 5))
    y = layer.forward(x)
    ref = naive_conv2d(x, layer.params["W"], layer.params["b"], stride, padding)
    assert y.shape == ref.shape
    assert rel_error(to_numpy(y), ref) < 1e-12


@pytest.mark.parametrize("stride,padding,op", [(1, 0, 0), (1, 1, 0), (2, 0, 0), (2, 1, 0), (2, 1, 1)],
                         ids=["s1p0", "s1p1", "s2p0", "s2p1", "s2p1op1"])
def test_conv_transpose2d_matches_naive_scatter(xp, rng, stride, padding, op):
    layer = _convt(xp, stride=stride, padding=padding, output_padding=op)
    x = rng.standard_normal((2, 3, 4, 3))
    y = layer.forward(x)
    ref = naive_conv_transpose2d(x, layer.params["W"], layer.params["b"], stride, padding, op)
    assert y.shape == ref.shape == (2, 2) + layer.output_size(4, 3)
    assert rel_error(to_numpy(y), ref) < 1e-12


@pytest.mark.parametrize("stride,padding", STRIDE_PAD + [(3, 1)], ids=SP_IDS + ["s3p1"])
def test_conv_transpose_is_adjoint_of_conv(xp, rng, stride, padding):
    """<conv(x), y> = <x, conv^T(y)> when both use the same W and no bias."""
    conv = nn.Conv2d(2, 3, 3, stride, padding, bias=False).astype(xp.float64)
    convt = nn.ConvTranspose2d(3, 2, 3, stride, padding, bias=False).astype(xp.float64)
    # Pick an image size that conv maps onto exactly: H = (H' - 1) s - 2p + k (+ 0).
    h_small, w_small = 4, 3
    h, w = convt.output_size(h_small, w_small)
    assert conv.output_size(h, w) == (h_small, w_small)
    W = rng.standard_normal(conv.params["W"].shape)  # (3, 2, 3, 3): (F, C) = (C_in, C_out)
    conv.params["W"][...] = W
    convt.params["W"][...] = W
    x = rng.standard_normal((2, 2, h, w))
    y = rng.standard_normal((2, 3, h_small, w_small))
    lhs = float(xp.sum(conv.forward(x) * y))
    rhs = float(xp.sum(x * convt.forward(y)))
    assert abs(lhs - rhs) <= 1e-12 * (abs(lhs) + abs(rhs))


# -- gradients ----------------------------------------------------------------------
@pytest.mark.parametrize("stride,padding", STRIDE_PAD, ids=SP_IDS)
def test_conv2d_gradients(xp, rng, stride, padding):
    layer = _conv(xp, stride=stride, padding=padding)
    errors = check_layer(layer, rng.standard_normal((2, 2, 7, 5)))
    assert set(errors) == {"x", "W", "b"}
    assert_close(errors)


@pytest.mark.parametrize("stride,padding,op", [(1, 0, 0), (1, 1, 0), (2, 0, 0), (2, 1, 0), (2, 1, 1)],
                         ids=["s1p0", "s1p1", "s2p0", "s2p1", "s2p1op1"])
def test_conv_transpose2d_gradients(xp, rng, stride, padding, op):
    layer = _convt(xp, stride=stride, padding=padding, output_padding=op)
    errors = check_layer(layer, rng.standard_normal((2, 3, 4, 3)))
    assert set(errors) == {"x", "W", "b"}
    assert_close(errors)


def test_conv_without_bias_and_even_kernel(xp, rng):
    conv = nn.Conv2d(2, 3, 4, 2, 1, bias=False).astype(xp.float64)
    convt = nn.ConvTranspose2d(3, 2, 4, 2, 1, bias=False).astype(xp.float64)
    assert list(conv.params) == list(convt.params) == ["W"]
    assert_close(check_layer(conv, rng.standard_normal((2, 2, 6, 5))))
    assert_close(check_layer(convt, rng.standard_normal((2, 3, 3, 2))))


def test_conv_backward_accumulates_and_param_grads_false(xp, rng):
    layer = _conv(xp, stride=2, padding=1)
    x = rng.standard_normal((2, 2, 7, 5))
    dy = rng.standard_normal(layer.forward(x).shape)
    layer.zero_grad()
    layer.backward(dy)
    once = layer.grads["W"].copy()
    layer.forward(x)
    dx = layer.backward(dy, param_grads=False)
    assert bool(xp.all(layer.grads["W"] == once))
    layer.backward(dy)
    assert rel_error(layer.grads["W"], 2 * once) < 1e-12
    assert dx.shape == x.shape


@pytest.mark.parametrize("make", [
    lambda xp: _conv(xp, stride=2, padding=1),
    lambda xp: _convt(xp, stride=2, padding=1, output_padding=1),
], ids=["conv", "convT"])
def test_conv_jvp(xp, rng, make):
    layer = make(xp)
    c = layer.c_in
    x, x_dot = rng.standard_normal((2, c, 5, 4)), rng.standard_normal((2, c, 5, 4))
    assert check_jvp(layer, x, x_dot) < 1e-6


def _check_jvp_backward(model, x, xp, rng):
    """Parameter, input and tangent gradients of S = <dy, f(x)> + <dy_dot, J_f(x) x_dot>
    from model.jvp_backward against central differences."""
    assert_close(check_jvp_backward(model, x, rng.standard_normal(x.shape)))


def test_conv_net_jvp_backward_leakyrelu(xp, rng):
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, 2, 1, init="he"), nn.LeakyReLU(0.2),
        nn.Conv2d(3, 2, 3, 1, 0, init="he"), nn.LeakyReLU(0.2),
    ).astype(xp.float64)
    _check_jvp_backward(model, rng.standard_normal((2, 1, 7, 5)), xp, rng)


def test_conv_net_jvp_backward_softplus_linear(xp, rng):
    """Softplus has phi'' != 0, so the second-order terms reach the conv weights."""
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, 2, 1, init="he"), nn.Softplus(), nn.Flatten(), nn.Linear(2 * 4 * 3, 1),
    ).astype(xp.float64)
    _check_jvp_backward(model, rng.standard_normal((3, 1, 7, 5)), xp, rng)


def test_conv_transpose_net_jvp_backward_tanh(xp, rng):
    model = nn.Sequential(
        nn.ConvTranspose2d(2, 2, 3, 2, 1, 1, init="he"), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 6 * 4, 1),
    ).astype(xp.float64)
    _check_jvp_backward(model, rng.standard_normal((2, 2, 3, 2)), xp, rng)


# -- dtypes and shapes ----------------------------------------------------------------
def test_float32_flows_through_conv_net(xp, rng):
    model = nn.Sequential(
        nn.Conv2d(1, 4, 4, 2, 1), nn.BatchNorm(4), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(4, 2, 4, 2, 1), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 8 * 8, 1),
    )
    x = rng.standard_normal((3, 1, 8, 8), dtype=xp.float32)
    y = model.forward(x)
    dx = model.backward(xp.ones_like(y))
    assert y.shape == (3, 1) and y.dtype == xp.float32 and dx.dtype == xp.float32
    assert dx.shape == x.shape
    for p, g in model.parameters():
        assert p.dtype == xp.float32 and g.dtype == xp.float32
        assert bool(xp.all(xp.isfinite(g)))


def test_dcgan_mnist_shapes(xp, rng):
    x = rng.standard_normal((2, 1, 28, 28), dtype=xp.float32)
    h1 = nn.Conv2d(1, 64, 4, 2, 1).forward(x)
    h2 = nn.Conv2d(64, 128, 4, 2, 1).forward(h1)
    g1 = nn.ConvTranspose2d(128, 64, 4, 2, 1).forward(h2)
    g2 = nn.ConvTranspose2d(64, 1, 4, 2, 1).forward(g1)
    assert (h1.shape, h2.shape, g1.shape, g2.shape) == (
        (2, 64, 14, 14), (2, 128, 7, 7), (2, 64, 14, 14), (2, 1, 28, 28))


def test_init_schemes(xp):
    conv = nn.Conv2d(8, 16, 4, 2, 1)  # DCGAN default: N(0, 0.02^2)
    assert conv.params["W"].shape == (16, 8, 4, 4) and conv.params["b"].shape == (16,)
    assert abs(float(xp.std(conv.params["W"])) - 0.02) < 0.003
    he = nn.Conv2d(8, 16, 4, init="he")
    assert abs(float(xp.std(he.params["W"])) - (2 / (8 * 16)) ** 0.5) < 0.02
    convt = nn.ConvTranspose2d(8, 16, 4, 2, 1)
    assert convt.params["W"].shape == (8, 16, 4, 4) and convt.params["b"].shape == (16,)
    with pytest.raises(ValueError, match="unknown init"):
        nn.Conv2d(1, 1, 3, init="orthogonal")


def test_conv_rejects_bad_input(xp, rng):
    conv = nn.Conv2d(3, 4, 3, 1, 0)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\)"):
        conv.forward(rng.standard_normal((2, 3, 5), dtype=xp.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\)"):
        conv.forward(rng.standard_normal((2, 2, 5, 5), dtype=xp.float32))
    with pytest.raises(ValueError, match="smaller than the kernel size 3"):
        conv.forward(rng.standard_normal((2, 3, 2, 5), dtype=xp.float32))
    with pytest.raises(TypeError, match="float64 does not match"):
        conv.forward(rng.standard_normal((2, 3, 5, 5)))
    convt = nn.ConvTranspose2d(3, 4, 3, 1, 2)
    with pytest.raises(ValueError, match="empty output"):
        convt.forward(rng.standard_normal((1, 3, 1, 1), dtype=xp.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\)"):
        convt.forward(rng.standard_normal((1, 4, 2, 2), dtype=xp.float32))
    with pytest.raises(TypeError, match="float64 does not match"):
        convt.jvp(rng.standard_normal((1, 3, 2, 2)))


def test_conv_rejects_bad_hyperparameters(xp):
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be an integer >= 0"):
        nn.Conv2d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match="kernel size k must be an integer >= 1"):
        nn.ConvTranspose2d(1, 1, 0)
    with pytest.raises(TypeError, match="kernel size k must be an integer"):
        nn.Conv2d(1, 1, 2.5)
    with pytest.raises(ValueError, match=r"output_padding \(< stride\) must be an integer in \[0, 1\]"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)
