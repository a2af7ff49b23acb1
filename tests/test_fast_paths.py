"""The speed-ups keep the results: each optimised path against the plain one it replaced.

* LeakyReLU: branch-free max(a, alpha a) and max([a > 0], alpha) against xp.where.
* phi' is formed once per forward and reused, never stale after the next forward.
* Memory layout: convolutions return NCHW-shaped views of batch-last memory, and Linear
  returns dx in its input's layout; a conv stack fed contiguous copies at every layer
  gives the same outputs and gradients.
"""
import numpy
import pytest

from tinygan import nn
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
