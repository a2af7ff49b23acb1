"""BatchNorm: gradient checks in train and eval mode for (N, C) and (N, C, H, W), running
statistics, buffers in state_dict/astype, the refused jvp, dtypes and shape errors."""
import numpy
import pytest

from tinygan import nn
from tinygan.backend import to_numpy
from gradcheck import assert_close, check_layer, rel_error


def _bn(xp, c):
    layer = nn.BatchNorm(c).astype(xp.float64)
    layer.params["gamma"][...] = 1 + 0.5 * xp.arange(c)  # gamma != 1, beta != 0: both enter
    layer.params["beta"][...] = 0.3 - 0.2 * xp.arange(c)
    return layer


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 2)], ids=["2d", "4d"])
def test_batchnorm_train_gradients(xp, rng, shape):
    layer = _bn(xp, shape[1])
    x = 2 * rng.standard_normal(shape) + 1
    errors = check_layer(layer, x)
    assert set(errors) == {"x", "gamma", "beta"}
    assert_close(errors)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 2)], ids=["2d", "4d"])
def test_batchnorm_eval_gradients(xp, rng, shape):
    layer = _bn(xp, shape[1])
    layer.running_mean[...] = xp.linspace(-0.5, 0.5, shape[1])
    layer.running_var[...] = xp.linspace(0.5, 2.0, shape[1])
    layer.eval()
    assert_close(check_layer(layer, rng.standard_normal(shape)))


def test_batchnorm_train_output_is_normalised(xp, rng):
    layer = nn.BatchNorm(3).astype(xp.float64)
    x = 3 * rng.standard_normal((16, 3, 4, 5)) - 2
    y = layer.forward(x)
    assert float(xp.max(xp.abs(y.mean(axis=(0, 2, 3))))) < 1e-12
    var = y.var(axis=(0, 2, 3))  # biased variance of xhat is var / (var + eps)
    assert float(xp.max(xp.abs(var - 1))) < 1e-3


def test_batchnorm_running_stats(xp, rng):
    layer = nn.BatchNorm(2, momentum=0.1).astype(xp.float64)
    batches = [rng.standard_normal((4, 2, 3, 3)) * (i + 1) + i for i in range(2)]
    mean, var = numpy.zeros(2), numpy.ones(2)
    for x in batches:
        layer.forward(x)
        host = to_numpy(x).transpose(1, 0, 2, 3).reshape(2, -1)
        mean = 0.9 * mean + 0.1 * host.mean(axis=1)
        var = 0.9 * var + 0.1 * host.var(axis=1, ddof=1)  # unbiased, as PyTorch
    assert rel_error(to_numpy(layer.running_mean), mean) < 1e-12
    assert rel_error(to_numpy(layer.running_var), var) < 1e-12
    # eval mode uses them and leaves them alone
    layer.eval()
    x = rng.standard_normal((3, 2, 2, 2))
    y = layer.forward(x)
    expect = (to_numpy(x) - mean[None, :, None, None]) / numpy.sqrt(var[None, :, None, None] + 1e-5)
    assert rel_error(to_numpy(y), expect) < 1e-12
    assert rel_error(to_numpy(layer.running_mean), mean) < 1e-12


def test_standing_statistics_average_the_batch_statistics_and_touch_nothing(xp, rng):
    """Under the model's weights, each BatchNorm's statistics become the plain mean of the
    batches' means and unbiased variances; running statistics, momenta, mode are kept."""
    lin = nn.Linear(3, 2, rng=rng).astype(xp.float64)
    model = nn.Sequential(lin, nn.BatchNorm(2).astype(xp.float64), nn.Tanh(),
                          nn.Reshape((2, 1, 1)), nn.BatchNorm(2).astype(xp.float64)).eval()
    model.layers[1].running_mean[...] = 7.0                  # as if trained elsewhere
    batches = [rng.standard_normal((4 + i, 3)) * (i + 1) + i for i in range(3)]
    kept = {k: to_numpy(v).copy() for k, v in model.state_dict().items()}
    stats = nn.standing_statistics(model, iter(batches))
    h = [to_numpy(lin.forward(x)) for x in batches]           # what the first BatchNorm sees
    assert rel_error(to_numpy(stats["1.running_mean"]),
                     numpy.mean([a.mean(axis=0) for a in h], axis=0)) < 1e-12
    assert rel_error(to_numpy(stats["1.running_var"]),
                     numpy.mean([a.var(axis=0, ddof=1) for a in h], axis=0)) < 1e-12
    assert set(stats) == {f"{i}.running_{s}" for i in (1, 4) for s in ("mean", "var")}
    for k, v in model.state_dict().items():                   # nothing moved
        numpy.testing.assert_array_equal(to_numpy(v), kept[k])
    assert not model.training and not model.layers[1].training
    assert model.layers[1].momentum == model.layers[4].momentum == 0.1


def test_standing_statistics_run_the_other_layers_as_they_sample(xp, rng):
    """Only BatchNorm trains: a Dropout beside it draws no mask (its counter stays), so
    the statistics are those of the eval-mode network and no other state moves."""
    drop = nn.Dropout(0.5, 2.0)
    model = nn.Sequential(drop, nn.Linear(3, 2, rng=rng).astype(xp.float64),
                          nn.BatchNorm(2).astype(xp.float64))
    kept = {k: to_numpy(v).copy() for k, v in drop.state_dict().items()}
    x = rng.standard_normal((6, 3))
    stats = nn.standing_statistics(model, [x])
    h = to_numpy(model.layers[1].forward(x))
    assert rel_error(to_numpy(stats["2.running_mean"]), h.mean(axis=0)) < 1e-12
    for k, v in drop.state_dict().items():
        numpy.testing.assert_array_equal(to_numpy(v), kept[k])
    assert drop.draws == 0 and model.training and drop.training    # mode restored


def test_batchnorm_backward_follows_forward_mode(xp, rng):
    """A backward after a train-mode forward uses the batch formula even if eval() was
    called in between (the mode is part of the forward's cache)."""
    layer = _bn(xp, 2)
    x, dy = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    layer.forward(x)
    dx_train = layer.backward(dy, param_grads=False)
    layer.forward(x)
    layer.eval()
    assert rel_error(layer.backward(dy, param_grads=False), dx_train) < 1e-15
    # the train-mode input gradient of a sum over the batch is zero per channel
    assert float(xp.max(xp.abs(dx_train.sum(axis=0)))) < 1e-12


def test_batchnorm_buffers_in_state_dict_and_astype(xp, rng):
    layer = nn.BatchNorm(3)
    assert layer.buffer_names() == ("running_mean", "running_var")
    layer.forward(rng.standard_normal((4, 3), dtype=xp.float32))
    state = layer.state_dict()
    assert set(state) == {"gamma", "beta", "running_mean", "running_var"}
    other = nn.BatchNorm(3)
    other.load_state_dict({k: v.copy() for k, v in state.items()})
    assert bool(xp.all(other.running_var == layer.running_var))
    assert not bool(xp.all(other.running_var == 1))
    layer.astype(xp.float64)
    assert layer.running_mean.dtype == xp.float64 and layer.params["gamma"].dtype == xp.float64


def test_batchnorm_refuses_jvp(xp, rng):
    layer = nn.BatchNorm(2)
    assert layer.mixes_samples is True
    assert nn.Sequential(nn.Linear(3, 2), nn.BatchNorm(2)).mixes_samples is True
    layer.forward(rng.standard_normal((4, 2), dtype=xp.float32))
    with pytest.raises(nn.PenaltyIncompatibleError, match="mixes samples.*WGAN-GP"):
        layer.jvp(xp.ones((4, 2), dtype=xp.float32))
    with pytest.raises(nn.PenaltyIncompatibleError, match="Gulrajani"):
        layer.jvp_backward(xp.ones((4, 2), dtype=xp.float32), xp.ones((4, 2), dtype=xp.float32))


def test_batchnorm_keeps_float32(xp, rng):
    layer = nn.BatchNorm(4)
    for shape in [(6, 4), (2, 4, 3, 3)]:
        x = rng.standard_normal(shape, dtype=xp.float32)
        y = layer.forward(x)
        dx = layer.backward(xp.ones_like(y))
        assert y.dtype == dx.dtype == xp.float32
    assert layer.running_mean.dtype == layer.running_var.dtype == xp.float32
    assert layer.grads["gamma"].dtype == xp.float32


def test_batchnorm_rejects_bad_input(xp, rng):
    layer = nn.BatchNorm(3)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\) or \(N, 3, H, W\)"):
        layer.forward(rng.standard_normal((4, 2), dtype=xp.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\)"):
        layer.forward(rng.standard_normal((4, 3, 5), dtype=xp.float32))
    with pytest.raises(TypeError, match="float64 does not match"):
        layer.forward(rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="more than one value per channel"):
        layer.forward(rng.standard_normal((1, 3), dtype=xp.float32))
    layer.eval()  # a single sample is fine with running statistics
    assert layer.forward(rng.standard_normal((1, 3), dtype=xp.float32)).shape == (1, 3)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\]"):
        nn.BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="num_features must be an integer >= 1"):
        nn.BatchNorm(0)
