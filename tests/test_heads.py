"""Heads: several heads on one input, outputs side by side. Gradient checks of the first
order and of the jvp pair (the input feeds every head, so their input gradients add),
parameter names, and clear errors."""
import numpy
import pytest

from tinygan import nn
from gradcheck import assert_close, check_jvp, check_jvp_backward, check_layer


def _heads(rng, n_in=4):
    """A linear head and a deeper one with a curved activation (second order is not 0)."""
    return nn.Heads(nn.Linear(n_in, 1, rng=rng, dtype=numpy.float64),
                    nn.Sequential(nn.Linear(n_in, 3, rng=rng, dtype=numpy.float64), nn.Tanh(),
                                  nn.Linear(3, 2, rng=rng, dtype=numpy.float64)))


def test_heads_put_the_outputs_side_by_side(xp, rng):
    layer = _heads(rng)
    x = rng.standard_normal((5, 4))
    y = layer.forward(x)
    assert y.shape == (5, 3)
    assert bool(xp.all(y[:, :1] == layer.heads[0].forward(x)))
    assert bool(xp.all(y[:, 1:] == layer.heads[1].forward(x)))
    assert [name for name, _, _ in layer.named_parameters()] == [
        "0.W", "0.b", "1.0.W", "1.0.b", "1.2.W", "1.2.b"]


def test_heads_gradients(xp, rng):
    x = rng.standard_normal((5, 4))
    assert_close(check_layer(_heads(rng), x))


def test_heads_inside_a_model_gradients(xp, rng):
    """A shared body under two heads (InfoGAN's D and Q): the body gets both heads'
    gradients."""
    model = nn.Sequential(nn.Linear(6, 4, rng=rng, dtype=numpy.float64), nn.Softplus(),
                          _heads(rng))
    assert_close(check_layer(model, rng.standard_normal((5, 6))))


def test_heads_jvp_pair(xp, rng):
    x, x_dot = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    assert check_jvp(_heads(rng), x, x_dot) < 1e-6
    assert_close(check_jvp_backward(_heads(rng), x, x_dot))


def test_heads_backward_returns_a_fresh_array(xp, rng):
    """dx is the caller's to overwrite: never a view of dy, even when one head passes its
    gradient through unchanged."""
    layer = nn.Heads(nn.Tanh(), nn.Flatten())
    x = rng.standard_normal((3, 2))
    layer.forward(x)
    dy = rng.standard_normal((3, 4))
    dx = layer.backward(dy)
    dx[...] = 0
    assert bool(xp.all(dy != 0))


def test_heads_reject_bad_input(xp, rng):
    with pytest.raises(ValueError, match="at least two heads"):
        nn.Heads(nn.Tanh())
    with pytest.raises(TypeError, match="item 1 is int"):
        nn.Heads(nn.Tanh(), 3)
    layer = nn.Heads(nn.Tanh(), nn.Reshape((2, 1)))
    with pytest.raises(ValueError, match=r"head 1 returned shape \(3, 2, 1\)"):
        layer.forward(rng.standard_normal((3, 2)))
