"""tinygan.loop: history, files, exact resume, divergence stop, sample files."""
import math
import os

import numpy
import pytest

from tinygan import backend, checkpoint, loop, models, plot
from tinygan.data import Minibatches
from tinygan.train import make_trainer

N, D_IN, NOISE, BATCH = 96, 64, 4, 16     # 6 batches per epoch; 64 = 8 x 8 images


def _data(seed=0, n=N):
    r = numpy.random.default_rng(seed)
    x = numpy.tanh(r.standard_normal((n, D_IN))).astype(numpy.float32)
    y = r.integers(0, 10, size=n).astype(numpy.int64)
    return x, y


def _trainer(loss="nsgan", conditional=False, seed=0):
    """A tiny fresh trainer whose initial weights depend on ``seed`` only."""
    init = backend.make_rng(seed)
    k = 10 if conditional else 0
    G = models.mlp_generator(NOISE, (16,), D_IN, n_classes=k, rng=init)
    D = models.mlp_discriminator(D_IN, (16,), n_classes=k, rng=init)
    return make_trainer(loss, G, D, noise_dim=NOISE, conditional=conditional, seed=seed)


def _batches(conditional=False):
    x, y = _data()
    return Minibatches(x, y if conditional else None, batch_size=BATCH, seed=3)


def _fit(trainer, batches, epochs, out, **kw):
    """fit as the example runs it: with the pictures attached."""
    kw.setdefault("log_every", 4)
    kw.setdefault("on_epoch_end", plot.EpochPictures(out, trainer))
    return loop.fit(trainer, batches, epochs, out, progress=False, log=None, **kw)


def test_history_and_files(xp, tmp_path):
    result = _fit(_trainer(), _batches(), 2, tmp_path, log_every=4)
    h = result.history
    # logged at every 4th iteration and at each epoch's last batch (6, 12)
    assert h["iteration"] == [4.0, 6.0, 8.0, 12.0]
    assert {len(v) for v in h.values()} == {4}
    assert {"d_loss", "g_loss", "d_real", "d_fake", "g_step"} <= set(h)
    assert all(math.isfinite(v) for k in ("d_loss", "g_loss") for v in h[k])
    assert result.epochs_done == 2 and len(result.epoch_times) == 2
    for name in ("samples_epoch_001.png", "samples_epoch_002.png", "losses.png", "checkpoint.npz"):
        assert os.path.getsize(tmp_path / name) > 1000, name
    arrays, meta = checkpoint.load(tmp_path / "checkpoint.npz")
    assert meta["epoch"] == 2 and meta["iteration"] == 12
    assert meta["trainer"]["d_steps"] == 12
    numpy.testing.assert_array_equal(arrays["history.d_loss"], h["d_loss"])


def test_the_loop_draws_nothing_itself(xp, tmp_path):
    loop.fit(_trainer(), _batches(), 1, tmp_path, progress=False, log=None)
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_logged_values_are_interval_means(xp, tmp_path):
    """Each logged statistic is the mean over the iterations since the previous log."""
    t = _trainer()
    real_step, calls = t.step, {"n": 0}

    def step(x, y=None):
        stats = real_step(x, y)
        calls["n"] += 1
        stats["d_loss"] = xp.asarray(float(calls["n"]), dtype=xp.float32)
        return stats

    t.step = step
    h = _fit(t, _batches(), 2, tmp_path, log_every=4).history
    # logs at iterations 4, 6 (epoch end), 8, 12: means of 1..4, 5..6, 7..8, 9..12
    assert h["d_loss"] == [2.5, 5.5, 7.5, 10.5]


@pytest.mark.parametrize("loss, conditional",
                         [("nsgan", False), ("wgan-gp", False), ("nsgan", True)])
def test_resume_is_bit_identical(xp, tmp_path, loss, conditional):
    """2 epochs straight == 1 epoch, stop, fresh trainer + loader, resume to 2 epochs.
    wgan-gp: n_critic 5 with 6 batches per epoch puts the stop mid-schedule."""
    straight = _trainer(loss, conditional)
    r1 = _fit(straight, _batches(conditional), 2, tmp_path / "a")

    _fit(_trainer(loss, conditional), _batches(conditional), 1, tmp_path / "b")
    resumed = _trainer(loss, conditional)
    r2 = _fit(resumed, _batches(conditional), 2, tmp_path / "b", resume=True)

    assert r2.epochs_done == 2 and len(r2.epoch_times) == 1
    assert resumed.g_steps == straight.g_steps and resumed.d_steps == straight.d_steps == 12
    s1, s2 = straight.state_dict(), resumed.state_dict()
    assert s1.keys() == s2.keys()
    if backend.backend_name() != "numpy":
        # CuPy generators cannot export their state: resume re-seeds deterministically,
        # so only shapes and finiteness can be compared with the straight run.
        assert all(bool(xp.isfinite(s2[k]).all()) for k in s2)
        return
    for k in s1:
        numpy.testing.assert_array_equal(backend.to_numpy(s1[k]), backend.to_numpy(s2[k]),
                                         err_msg=k)
    assert r1.history == r2.history
    # the same fixed noise, hence the same final grid, byte for byte
    assert (tmp_path / "a" / "samples_epoch_002.png").read_bytes() == \
        (tmp_path / "b" / "samples_epoch_002.png").read_bytes()


def test_resume_without_checkpoint_is_an_error(xp, tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        _fit(_trainer(), _batches(), 1, tmp_path, resume=True)


def test_resume_when_already_done_trains_nothing(xp, tmp_path):
    _fit(_trainer(), _batches(), 1, tmp_path)
    t = _trainer()
    r = _fit(t, _batches(), 1, tmp_path, resume=True)
    assert r.epochs_done == 1 and r.epoch_times == [] and t.d_steps == 6


def _poison_step(trainer, at_call, where="stat"):
    """Make ``trainer.step`` return a NaN statistic (or NaN weights) from call ``at_call`` on."""
    real_step = trainer.step
    calls = {"n": 0}

    def step(x, y=None):
        stats = real_step(x, y)
        calls["n"] += 1
        if calls["n"] >= at_call:
            if where == "stat":
                xp = backend.get_array_module(stats["d_loss"])
                stats["d_loss"] = xp.asarray(float("nan"), dtype=stats["d_loss"].dtype)
            else:
                W = trainer.G.layers[0].params["W"]
                W[0, 0] = float("nan")
        return stats

    trainer.step = step


def test_nan_stops_and_keeps_last_checkpoint(xp, tmp_path):
    _fit(_trainer(), _batches(), 1, tmp_path)
    ckpt = tmp_path / "checkpoint.npz"
    before = ckpt.read_bytes()
    t = _trainer()
    # resumed at iteration 6; the 3rd call of this run is iteration 9; iteration 8 is
    # logged clean, the next logged one (12, a multiple of log_every and the epoch end) sees NaN
    _poison_step(t, at_call=3)
    with pytest.raises(loop.TrainingDiverged) as info:
        _fit(t, _batches(), 3, tmp_path, resume=True, log_every=4)
    err = info.value
    assert err.step == 12 and err.name == "d_loss" and math.isnan(err.value)
    assert "iteration 12" in str(err) and "'d_loss'" in str(err) and "untouched" in str(err)
    assert ckpt.read_bytes() == before
    assert not (tmp_path / "samples_epoch_002.png").exists()


def test_nan_weights_with_finite_stats_are_caught_at_epoch_end(xp, tmp_path):
    """Statistics may still look finite when only the last step broke the weights: the
    epoch-end check keeps such weights out of the checkpoint."""
    t = _trainer()
    _poison_step(t, at_call=6, where="weights")   # the last batch of epoch 1
    with pytest.raises(loop.TrainingDiverged, match=r"G\.0\.W"):
        _fit(t, _batches(), 1, tmp_path, log_every=100)
    assert not (tmp_path / "checkpoint.npz").exists()


def test_bad_arguments(xp, tmp_path):
    with pytest.raises(ValueError, match="log_every"):
        _fit(_trainer(), _batches(), 1, tmp_path, log_every=0)
    with pytest.raises(ValueError, match="epochs"):
        _fit(_trainer(), _batches(), -1, tmp_path)
    with pytest.raises(ValueError, match="no labels"):
        _fit(_trainer(conditional=True), _batches(False), 1, tmp_path)


def test_conditional_grid_inputs(xp):
    z, y = plot.fixed_inputs(_trainer(conditional=True), 100)
    assert z.shape == (100, NOISE)
    numpy.testing.assert_array_equal(backend.to_numpy(y), numpy.repeat(numpy.arange(10), 10))
    z2, _ = plot.fixed_inputs(_trainer(conditional=True, seed=5), 100)
    numpy.testing.assert_array_equal(backend.to_numpy(z), backend.to_numpy(z2))  # own generator


@pytest.mark.parametrize("conditional", [False, True])
def test_save_samples(xp, tmp_path, conditional):
    t = _trainer(conditional=conditional)
    path = loop.save_samples(t, 250, tmp_path / "s.npy", batch_size=100)
    s = numpy.load(path, allow_pickle=False)
    assert s.shape == (250, D_IN) and s.dtype == numpy.float32
    assert s.min() >= -1 and s.max() <= 1 and s.std() > 0.01
    assert os.listdir(tmp_path) == ["s.npy"]
    if conditional:   # balanced labels i mod 10: rows 0 and 10 share a label, not a sample
        assert not numpy.array_equal(s[0], s[10])
