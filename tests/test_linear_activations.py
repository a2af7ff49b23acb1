"""Gradient checks for Linear, the activations, Flatten/Reshape and Sequential
(first order and the second-order jvp pair), plus dtype and shape contracts."""
import pytest

from tinygan import nn
from gradcheck import (assert_close, check_jvp, check_jvp_backward, check_layer,
                               numeric_gradient, rel_error)

ACTIVATIONS = [nn.ReLU, lambda: nn.LeakyReLU(0.2), nn.Tanh, nn.Sigmoid, nn.Softplus]
ACT_IDS = ["relu", "leakyrelu", "tanh", "sigmoid", "softplus"]


def _away_from_kinks(x, xp):
    """Move entries away from 0, where ReLU-type derivatives jump (finite differences
    straddling a kink are wrong, not the derivation)."""
    return x + 0.1 * xp.sign(x)


def test_linear_gradients(xp, rng):
    layer = nn.Linear(5, 3).astype(xp.float64)
    x = rng.standard_normal((4, 5))
    assert_close(check_layer(layer, x))


def test_linear_without_bias(xp, rng):
    layer = nn.Linear(3, 2, bias=False).astype(xp.float64)
    assert list(layer.params) == ["W"]
    assert_close(check_layer(layer, rng.standard_normal((6, 3))))


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_activation_gradients(xp, rng, make):
    x = _away_from_kinks(rng.standard_normal((3, 4, 2)) * 2, xp)
    assert_close(check_layer(make(), x))


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_activation_jvp(xp, rng, make):
    x = _away_from_kinks(rng.standard_normal((5, 3)), xp)
    assert check_jvp(make(), x, rng.standard_normal((5, 3))) < 1e-6


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_activation_second_derivative(xp, rng, make):
    """jvp_backward's phi'' term: d/da of sum(dy_dot * phi'(a) * a_dot) numerically."""
    layer = make()
    a = _away_from_kinks(rng.standard_normal((4, 3)), xp)
    a_dot = rng.standard_normal((4, 3))
    dy, dy_dot = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))

    def scalar():  # S(a, a_dot) = <dy, phi(a)> + <dy_dot, phi'(a) a_dot>
        y = layer.forward(a)
        return xp.sum(dy * y) + xp.sum(dy_dot * layer.jvp(a_dot))

    layer.forward(a)
    layer.jvp(a_dot)
    da, da_dot = layer.jvp_backward(dy, dy_dot)
    assert rel_error(da, numeric_gradient(scalar, a)) < 1e-6
    assert rel_error(da_dot, numeric_gradient(scalar, a_dot)) < 1e-6


def test_activations_stable_at_large_inputs(xp):
    a = xp.asarray([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=xp.float32)
    for layer in (nn.Sigmoid(), nn.Softplus(), nn.Tanh()):
        y = layer.forward(a)
        dx = layer.backward(xp.ones_like(a))
        assert y.dtype == xp.float32 and dx.dtype == xp.float32
        assert bool(xp.all(xp.isfinite(y))) and bool(xp.all(xp.isfinite(dx)))
    assert float(nn.Softplus().forward(a)[-1]) == pytest.approx(1e4)
    assert float(nn.Sigmoid().forward(a)[0]) == 0.0


def test_reshape_and_flatten(xp, rng):
    x = rng.standard_normal((2, 12))
    assert_close(check_layer(nn.Reshape((3, 2, 2)), x))
    assert nn.Reshape((3, 2, 2)).forward(x).shape == (2, 3, 2, 2)
    img = rng.standard_normal((2, 3, 2, 2))
    assert_close(check_layer(nn.Flatten(), img))
    with pytest.raises(ValueError, match="expected 12 values per sample"):
        nn.Reshape((3, 4)).forward(rng.standard_normal((2, 5)))


def _mlp(act, dtype):
    return nn.Sequential(nn.Linear(6, 8), act(), nn.Linear(8, 5), act(), nn.Linear(5, 1)).astype(dtype)


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_sequential_gradients_and_jvp(xp, rng, make):
    model = _mlp(make, xp.float64)
    x = rng.standard_normal((7, 6))
    assert_close(check_layer(model, x))
    assert check_jvp(model, x, rng.standard_normal((7, 6))) < 1e-6


def test_sequential_jvp_backward_parameter_gradient(xp, rng):
    """The reverse pass through (y, y_dot) gives the parameter gradient of
    S = sum(dy * f(x)) + sum(dy_dot * J_f(x) x_dot); checked for a Tanh MLP (phi'' != 0)."""
    model = _mlp(nn.Tanh, xp.float64)
    x, x_dot = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    errors = check_jvp_backward(model, x, x_dot)
    assert {"x", "x_dot", "0.W", "4.b"} <= set(errors)
    assert_close(errors)


def test_float32_flows_through_mlp(xp, rng):
    model = nn.Sequential(nn.Linear(10, 16), nn.LeakyReLU(0.2), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 1), nn.Sigmoid())
    x = rng.standard_normal((8, 10), dtype=xp.float32)
    y = model.forward(x)
    dx = model.backward(xp.ones_like(y))
    assert y.dtype == xp.float32 and dx.dtype == xp.float32
    for p, g in model.parameters():
        assert p.dtype == xp.float32 and g.dtype == xp.float32


def test_linear_rejects_bad_input(xp, rng):
    layer = nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"expected input of shape \(m, 4\)"):
        layer.forward(rng.standard_normal((3, 5), dtype=xp.float32))
    with pytest.raises(TypeError, match="float64 does not match"):
        layer.forward(rng.standard_normal((3, 4)))  # float64 into float32 parameters


def test_backward_without_param_grads_leaves_grads(xp, rng):
    model = _mlp(nn.Softplus, xp.float64)
    x = rng.standard_normal((3, 6))
    model.forward(x)
    before = [g.copy() for _, g in model.parameters()]
    model.backward(xp.ones((3, 1)), param_grads=False)
    for b, (_, g) in zip(before, model.parameters()):
        assert bool(xp.all(b == g))


def test_backward_accumulates(xp, rng):
    layer = nn.Linear(3, 2).astype(xp.float64)
    x, dy = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    layer.backward(dy)
    once = layer.grads["W"].copy()
    layer.forward(x)
    layer.backward(dy)
    assert rel_error(layer.grads["W"], 2 * once) < 1e-12


def test_state_dict_roundtrip(xp):
    a, b = _mlp(nn.ReLU, xp.float32), _mlp(nn.ReLU, xp.float32)
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    for (pa, _), (pb, _) in zip(a.parameters(), b.parameters()):
        assert bool(xp.all(pa == pb))
    with pytest.raises(ValueError, match="expected shape"):
        b.load_state_dict({**a.state_dict(), "0.W": xp.zeros((2, 2), dtype=xp.float32)})


@pytest.mark.parametrize("make", ACTIVATIONS, ids=ACT_IDS)
def test_need_dx_false_adds_the_same_grads(xp, rng, make):
    """backward(dy, need_dx=False) skips only the first layer's dL/dx, and
    jvp_backward(None, .) treats None as an exact zero cotangent."""
    model = _mlp(make, xp.float64)
    x, x_dot = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    dy, dy_dot = rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
    results = []
    for kwargs, seed in (({}, xp.zeros_like(dy)), ({"need_dx": False}, None)):
        model.zero_grad()
        model.forward(x)
        dx = model.backward(dy, **kwargs)
        model.jvp(x_dot)
        pair = model.jvp_backward(seed, dy_dot, **kwargs)
        results.append((dx, pair, [g.copy() for _, g in model.parameters()]))
    (dx_full, _, grads_full), (dx_none, pair_none, grads_none) = results
    assert dx_none is None and pair_none == (None, None) and dx_full.shape == x.shape
    for a, b in zip(grads_full, grads_none):
        assert rel_error(a, b) < 1e-12
