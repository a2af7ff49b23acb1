"""Maxout and Dropout: gradient checks (first order and the jvp pair), pylearn2's
grouping of maxout pieces, dropout's mask statistics, eval mode and resumable masks."""
import numpy
import pytest

from tinygan import nn
from gradcheck import assert_close, check_jvp, check_jvp_backward, check_layer


def _separated(rng, xp, shape):
    """Inputs whose pieces differ by at least 0.05 within every group, so that central
    differences (h = 1e-6) never cross a tie where the max switches piece."""
    m, units, pieces = shape
    base = rng.permuted(xp.broadcast_to(xp.arange(pieces, dtype=xp.float64),
                                        (m, units, pieces)).copy(), axis=2)
    return (0.05 * base + 0.01 * rng.random((m, units, pieces))).reshape(m, units * pieces)


def test_maxout_takes_the_max_of_adjacent_pieces(xp):
    a = xp.asarray([[1.0, 5.0, 2.0, -1.0, -3.0, -2.0]])   # units 2, pieces 3
    layer = nn.Maxout(2, 3)
    assert layer.forward(a).tolist() == [[5.0, -1.0]]
    assert layer.backward(xp.asarray([[10.0, 20.0]])).tolist() == [[0, 10.0, 0, 20.0, 0, 0]]


def test_maxout_gradients(xp, rng):
    x = _separated(rng, xp, (4, 3, 5))
    assert_close(check_layer(nn.Maxout(3, 5), x))


def test_maxout_jvp_pair(xp, rng):
    x = _separated(rng, xp, (4, 3, 5))
    x_dot = rng.standard_normal(x.shape)
    assert check_jvp(nn.Maxout(3, 5), x, x_dot) < 1e-6
    assert_close(check_jvp_backward(nn.Maxout(3, 5), x, x_dot))


def test_maxout_rejects_bad_shapes(xp, rng):
    with pytest.raises(ValueError, match=r"expected input of shape \(m, 15\)"):
        nn.Maxout(3, 5).forward(rng.standard_normal((2, 14)))
    with pytest.raises(ValueError, match="pieces must be an integer >= 1"):
        nn.Maxout(3, 0)


class FixedMaskDropout(nn.Dropout):
    """Dropout whose every forward redraws the same mask (the gradient check evaluates
    the layer many times and needs one function)."""

    def _draw_mask(self, x):
        self.draws = 0
        return super()._draw_mask(x)


def test_dropout_gradients_with_fixed_mask(xp, rng):
    layer = FixedMaskDropout(0.5, 2.0, seed=3)
    x = rng.standard_normal((6, 7))
    assert_close(check_layer(layer, x))
    assert_close(check_jvp_backward(layer, x, rng.standard_normal((6, 7))))
    assert check_jvp(layer, x, rng.standard_normal((6, 7))) < 1e-6


def test_dropout_keeps_include_prob_and_scales(xp):
    layer = nn.Dropout(0.8, 1.25, seed=0)
    x = xp.ones((200, 500), dtype=xp.float32)
    y = layer.forward(x)
    values = set(numpy.unique(numpy.asarray(y.get() if hasattr(y, "get") else y)).tolist())
    assert values == {0.0, 1.25} and y.dtype == xp.float32
    kept = float((y > 0).mean())
    assert abs(kept - 0.8) < 0.005                         # 1e5 draws: sd 0.0013
    assert abs(float(y.mean()) - 1.0) < 0.01               # E[y] = p * scale * x = x
    dx = layer.backward(xp.ones_like(x))
    assert bool(xp.all(dx == y))                            # same mask in backward


def test_dropout_is_the_identity_in_eval_and_draws_fresh_masks(xp, rng):
    layer = nn.Dropout(0.5)
    assert layer.scale == 2.0
    x = rng.standard_normal((8, 16), dtype=xp.float32)
    a, b = layer.forward(x), layer.forward(x)
    assert not bool(xp.all(a == b)) and layer.draws == 2
    layer.eval()
    assert layer.forward(x) is x and layer.backward(x) is x and layer.draws == 2


def test_dropout_masks_resume_from_the_draw_counter(xp, rng):
    x = rng.standard_normal((4, 9), dtype=xp.float32)
    first = nn.Dropout(0.5, seed=1)
    first.forward(x)
    state = first.state_dict("d.")
    expected = first.forward(x)
    second = nn.Dropout(0.5, seed=1)
    second.load_state_dict(state, "d.")
    assert bool(xp.all(second.forward(x) == expected))
    with pytest.raises(ValueError, match=r"include_prob must lie in \(0, 1\]"):
        nn.Dropout(0.0)
