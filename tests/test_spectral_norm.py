"""Spectral normalisation (Miyato et al. 2018), Linear and Conv2d: gradients with u, v
held constant (eval mode, where the power iteration does not run), the power iteration's
estimate, the second-order pair and the gradient penalty through it."""
import pytest

from tinygan import nn
from gradcheck import (assert_close, check_gradients, check_jvp, check_jvp_backward, check_layer,
                       rel_error)
from tinygan.lipschitz import gradient_penalty, input_gradient
from tinygan.nn.spectral_norm import SpectralNormConv2d, SpectralNormLinear


def _largest_singular_value(xp, W):
    return float(xp.linalg.svd(W, compute_uv=False)[0])


def test_gradients_with_u_v_constant(xp, rng):
    layer = SpectralNormLinear(5, 3, rng=rng).astype(xp.float64)
    layer.params["b"][...] = rng.standard_normal(3)
    layer.forward(rng.standard_normal((2, 5)))   # one power step in training mode
    layer.eval()                                 # u, v now fixed: FD sees W -> W / v^T W u
    assert_close(check_layer(layer, rng.standard_normal((4, 5))))


def test_training_forward_runs_one_power_iteration(xp, rng):
    layer = SpectralNormLinear(6, 4, rng=rng).astype(xp.float64)
    x = rng.standard_normal((3, 6))
    u0 = layer.u.copy()
    layer.eval().forward(x)
    assert bool(xp.all(layer.u == u0))           # eval: no update
    layer.train().forward(x)
    W = layer.params["W"]
    v = W @ u0 / xp.linalg.norm(W @ u0)
    u = W.T @ v / xp.linalg.norm(W.T @ v)
    assert rel_error(layer.v, v) < 1e-12 and rel_error(layer.u, u) < 1e-12
    assert rel_error(layer.sigma, v @ W @ u) < 1e-12


def test_sigma_converges_to_largest_singular_value(xp, rng):
    layer = SpectralNormLinear(20, 12, rng=rng).astype(xp.float64)
    layer.params["W"][...] = rng.standard_normal((20, 12))
    x = rng.standard_normal((2, 20))
    for _ in range(200):                         # the power iteration, one step per forward
        layer.forward(x)
    s_max = _largest_singular_value(xp, layer.params["W"])
    assert float(layer.sigma) == pytest.approx(s_max, rel=1e-6)
    assert _largest_singular_value(xp, layer.w_sn) == pytest.approx(1.0, rel=1e-6)


def test_jvp_and_second_order_pair(xp, rng):
    layer = SpectralNormLinear(4, 3, rng=rng).astype(xp.float64).eval()
    x, x_dot = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    assert check_jvp(layer, x, x_dot) < 1e-6
    dy, dy_dot = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))

    def scalar():
        return xp.sum(dy * layer.forward(x)) + xp.sum(dy_dot * layer.jvp(x_dot))

    layer.zero_grad()
    layer.forward(x)
    layer.jvp(x_dot)
    layer.jvp_backward(dy, dy_dot)
    arrays = {k: p for k, p in layer.params.items()}
    analytic = {k: g.copy() for k, g in layer.grads.items()}
    assert_close(check_gradients(scalar, arrays, analytic))


def _check_penalty_gradients(xp, critic, x_hat):
    """gradient_penalty's value and parameter gradients against the penalty written out
    and its central differences; returns its result."""
    m = x_hat.shape[0]

    def penalty():
        g = input_gradient(critic, x_hat).reshape(m, -1)
        return 10.0 * xp.mean((xp.sqrt(xp.sum(g * g, axis=1)) - 1) ** 2)

    critic.zero_grad()
    result = gradient_penalty(critic, x_hat)
    assert rel_error(result.value, penalty()) < 1e-12
    arrays = {n: p for n, p, _ in critic.named_parameters()}
    analytic = {n: g.copy() for n, _, g in critic.named_parameters()}
    assert_close(check_gradients(penalty, arrays, analytic))
    return result


@pytest.mark.parametrize("act", [nn.Tanh, lambda: nn.LeakyReLU(0.2)], ids=["tanh", "leakyrelu"])
def test_gradient_penalty_through_spectral_norm(xp, rng, act):
    critic = nn.Sequential(SpectralNormLinear(4, 6, rng=rng), act(),
                           SpectralNormLinear(6, 5, rng=rng), act(),
                           SpectralNormLinear(5, 1, rng=rng)).astype(xp.float64).eval()
    x_hat = rng.standard_normal((5, 4)) + 0.05   # LeakyReLU: kinks have measure zero
    result = _check_penalty_gradients(xp, critic, x_hat)
    # a spectrally normalised MLP with 1-Lipschitz activations is 1-Lipschitz
    assert float(result.grad_norm_mean) <= 1.0 + 1e-9


def test_float32_state_and_bad_arguments(xp, rng):
    layer = SpectralNormLinear(3, 2, rng=rng)
    y = layer.forward(rng.standard_normal((4, 3), dtype=xp.float32))
    dx = layer.backward(xp.ones_like(y))
    assert y.dtype == dx.dtype == layer.grads["W"].dtype == layer.u.dtype == xp.float32
    assert set(layer.state_dict()) == {"W", "b", "u", "v"}
    with pytest.raises(ValueError, match="n_power_iterations must be an integer >= 1"):
        SpectralNormLinear(3, 2, n_power_iterations=0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        SpectralNormLinear(3, 2, eps=0.0)


# -- Conv2d: M = W.reshape(F, C k k) ---------------------------------------------------

@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)], ids=["s1p0", "s2p1"])
def test_conv_gradients_and_second_order_pair(xp, rng, stride, padding):
    layer = SpectralNormConv2d(2, 3, 3, stride, padding, init="he", rng=rng).astype(xp.float64)
    layer.params["b"][...] = rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 6, 5))
    layer.forward(x)                             # one power step in training mode
    layer.eval()                                 # u, v now fixed: FD sees W -> W / v^T M u
    assert_close(check_layer(layer, x))
    x_dot = rng.standard_normal(x.shape)
    assert check_jvp(layer, x, x_dot) < 1e-6
    assert_close(check_jvp_backward(layer, x, x_dot))


def test_conv_power_iteration_on_the_reshaped_weight(xp, rng):
    layer = SpectralNormConv2d(3, 4, 3, init="he", rng=rng).astype(xp.float64)
    x = rng.standard_normal((2, 3, 5, 5))
    u0 = layer.u.copy()
    assert layer.u.shape == (27,) and layer.v.shape == (4,)
    layer.forward(x)
    M = layer.params["W"].reshape(4, 27)
    v = M @ u0 / xp.linalg.norm(M @ u0)
    u = M.T @ v / xp.linalg.norm(M.T @ v)
    assert rel_error(layer.v, v) < 1e-12 and rel_error(layer.u, u) < 1e-12
    for _ in range(100):
        layer.forward(x)
    assert float(layer.sigma) == pytest.approx(_largest_singular_value(xp, M), rel=1e-6)
    # the normalised convolution equals a plain Conv2d with weight W / sigma
    plain = nn.Conv2d(3, 4, 3, init="he", rng=rng).astype(xp.float64)
    plain.params["W"][...] = layer.params["W"] / layer.sigma
    plain.params["b"][...] = layer.params["b"]
    assert rel_error(layer.eval().forward(x), plain.forward(x)) < 1e-12


def test_conv_lipschitz_bound(xp, rng):
    """||conv_sn|| <= ceil(k/s) (every pixel is read by at most ceil(k/s)^2 windows):
    the operator norm of x -> conv_sn(x), by power iteration on its Gram map."""
    layer = SpectralNormConv2d(2, 3, 4, 2, 1, bias=False, init="he", rng=rng).astype(xp.float64)
    for _ in range(100):
        layer.forward(rng.standard_normal((1, 2, 8, 8)))
    layer.eval()
    x = rng.standard_normal((1, 2, 8, 8))
    for _ in range(200):
        x = layer.backward(layer.forward(x), param_grads=False)   # A^T A x
        x = x / xp.linalg.norm(x)
    norm = float(xp.linalg.norm(layer.forward(x)))
    assert 0.5 < norm <= 2.0 + 1e-9


@pytest.mark.parametrize("act", [nn.Softplus, nn.Tanh], ids=["softplus", "tanh"])
def test_gradient_penalty_through_spectral_norm_conv_critic(xp, rng, act):
    """A conv critic of SN layers with phi'' != 0 under the penalty: double backprop
    against central differences of the penalty itself."""
    critic = nn.Sequential(SpectralNormConv2d(1, 2, 3, 2, 1, init="he", rng=rng), act(),
                           SpectralNormConv2d(2, 2, 3, 1, 0, init="he", rng=rng), act(),
                           nn.Flatten(), SpectralNormLinear(2, 1, rng=rng)
                           ).astype(xp.float64).eval()
    _check_penalty_gradients(xp, critic, rng.standard_normal((3, 1, 6, 6)))


def test_conv_float32_state_and_bad_arguments(xp, rng):
    layer = SpectralNormConv2d(2, 3, 3, padding=1, rng=rng)
    y = layer.forward(rng.standard_normal((2, 2, 4, 4), dtype=xp.float32))
    dx = layer.backward(xp.ones_like(y))
    assert y.dtype == dx.dtype == layer.grads["W"].dtype == layer.u.dtype == xp.float32
    assert set(layer.state_dict()) == {"W", "b", "u", "v"}
    with pytest.raises(ValueError, match="SpectralNormConv2d: n_power_iterations"):
        SpectralNormConv2d(2, 3, 3, n_power_iterations=0)
