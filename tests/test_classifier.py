"""The MNIST classifier behind the metrics: its training code, batched inference, the
save/load round trip and the accuracy gate (fast, on synthetic digits), the weights
shipped in the package (pinned, pickle-free, loaded without training), and retraining
with the recipe (slow)."""
import configparser
import os
import shutil
import subprocess
import sys

import numpy
import pytest

import tinygan.checkpoint
import tinygan.data
from tinygan import classifier as C
from tinygan import metrics
from tinygan.backend import to_numpy


def _synthetic_digits(n, seed=0):
    """Host images (n, 784) in [-1, 1]: digit k is a bright 7x7 block at place k, plus noise."""
    rng = numpy.random.default_rng(seed)
    y = numpy.arange(n) % 10
    x = numpy.full((n, 28, 28), -1.0, dtype=numpy.float32)
    for k in range(10):
        r, c = divmod(k, 4)
        x[y == k, 7 * r:7 * r + 7, 7 * c:7 * c + 7] = 1.0
    x += rng.normal(0, 0.3, x.shape).astype(numpy.float32)
    return numpy.clip(x, -1, 1).reshape(n, 784), y.astype(numpy.int64)


def test_training_lowers_the_loss(xp):
    x, y = _synthetic_digits(256)
    result = C.train_classifier(x, y, epochs=3, batch_size=32, log=None)
    assert len(result.losses) == 3
    assert result.losses[0] > 1.0 > 3 * result.losses[-1]  # from ~log 10 to well below
    assert result.classifier.accuracy(x, y) == 1.0


def test_training_on_a_small_mnist_subset_lowers_the_loss(xp, mnist_dir):
    x, y = tinygan.data.load_mnist("train", data_dir=mnist_dir)
    result = C.train_classifier(x[:640], y[:640], epochs=2, batch_size=32, log=None)
    assert result.losses[0] < 2.5 and result.losses[1] < 0.8 * result.losses[0]


def test_outputs_are_batched_features_and_probabilities(xp):
    x, _ = _synthetic_digits(23)
    net = C.build_network(seed=1)
    big, small = C.MNISTClassifier(net), C.MNISTClassifier(net, batch_size=5)
    feats, probs = big.outputs(x)
    assert feats.shape == (23, C.N_FEATURES) and probs.shape == (23, C.N_CLASSES)
    assert feats.dtype == xp.float32 and probs.dtype == xp.float32
    assert float(feats.min()) >= 0  # ReLU features
    numpy.testing.assert_allclose(to_numpy(probs.sum(axis=1)), 1, rtol=1e-6)
    f2, p2 = small.outputs(x.reshape(23, 1, 28, 28))  # image layout, other batching
    numpy.testing.assert_allclose(to_numpy(f2), to_numpy(feats), rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(to_numpy(p2), to_numpy(probs), rtol=1e-5, atol=1e-7)
    numpy.testing.assert_array_equal(to_numpy(big.predict(x)), to_numpy(probs.argmax(axis=1)))
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        big.outputs(xp.zeros((3, 28, 28), dtype=xp.float32))


def test_shipped_classifier_loads_without_training(xp, mnist_dir, monkeypatch, tmp_path):
    """The metrics' classifier comes with the package: nothing is trained on first use,
    the file is the pinned one and reaches the required accuracy."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))      # no cache to fall back on

    def no_training(*args, **kwargs):
        raise AssertionError("the shipped classifier must not be trained on first use")

    monkeypatch.setattr(C, "train_classifier", no_training)
    lines = []
    clf = C.load_classifier(log=lines.append)
    assert clf.meta["sha256"] == C.SHIPPED_SHA256 == C.file_sha256(C.SHIPPED_PATH)
    assert clf.meta["arch_hash"] == C.arch_hash()
    assert any("(shipped): test accuracy 98.95%" in line for line in lines), lines
    assert clf.meta["test_accuracy"] >= C.MIN_ACCURACY
    assert os.listdir(tmp_path) == []                        # and nothing written


def test_shipped_weights_are_small_plain_and_packaged():
    """A plain .npz (NumPy reads it with allow_pickle=False), under 1 MB, listed in the
    package data, and not ignored by git."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert os.path.getsize(C.SHIPPED_PATH) < 1_000_000
    with numpy.load(C.SHIPPED_PATH, allow_pickle=False) as npz:
        assert {"0.W", "2.W", "5.W", "7.W"} <= set(npz.files)
        assert all(npz[k].dtype in (numpy.float32, numpy.uint8) for k in npz.files)
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(root, "setup.cfg"))
    relative = os.path.relpath(C.SHIPPED_PATH, os.path.join(root, "tinygan"))
    assert relative in cfg["options.package_data"]["tinygan"].split()
    if shutil.which("git") and os.path.exists(os.path.join(root, ".git")):
        ignored = subprocess.run(["git", "check-ignore", "-q", C.SHIPPED_PATH], cwd=root)
        assert ignored.returncode == 1, "the shipped weights are ignored by .gitignore"


def test_changed_shipped_weights_are_refused(tmp_path, monkeypatch):
    data = bytearray(open(C.SHIPPED_PATH, "rb").read())
    data[len(data) // 2] ^= 1
    (tmp_path / "w.npz").write_bytes(bytes(data))
    monkeypatch.setattr(C, "SHIPPED_PATH", str(tmp_path / "w.npz"))
    with pytest.raises(ValueError, match="SHA-256 .* is not that of the shipped classifier"):
        C.load_classifier(log=None)


@pytest.fixture
def synthetic_mnist(monkeypatch, tmp_path):
    """load_mnist replaced by small synthetic digits, caches in a temporary folder, and a
    40-step recipe: the whole train-save-load-verify path in seconds."""
    data = {"train": _synthetic_digits(200, seed=1), "test": _synthetic_digits(100, seed=2)}
    monkeypatch.setattr(tinygan.data, "load_mnist", lambda split="train", **kw: data[split])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(C.RECIPE, "epochs", 4)
    monkeypatch.setitem(C.RECIPE, "batch_size", 20)
    return data


def test_train_and_save_round_trips(xp, synthetic_mnist, tmp_path):
    lines = []
    path = tmp_path / "clf.npz"
    first = C.train_and_save(path, log=lines.append)
    assert any("written to" in line and C.file_sha256(path) in line for line in lines)
    arrays, meta = tinygan.checkpoint.load(path)
    assert meta["test_accuracy"] == 1.0 and meta["arch_hash"] == C.arch_hash()
    lines.clear()
    second = C.load_classifier(path, log=lines.append)  # a user's own file: no pin
    assert any("test accuracy 100.00%" in line for line in lines)
    assert second.meta["sha256"] == C.file_sha256(path)
    x = synthetic_mnist["test"][0]
    numpy.testing.assert_array_equal(to_numpy(first.outputs(x).features),
                                     to_numpy(second.outputs(x).features))


def test_load_refuses_an_inaccurate_classifier(xp, synthetic_mnist, tmp_path):
    C.train_and_save(tmp_path / "clf.npz", log=None)
    x, y = synthetic_mnist["test"]
    synthetic_mnist["test"] = (x, (y + 1) % 10)  # every label now wrong
    with pytest.raises(RuntimeError, match="0.00% test accuracy"):
        C.load_classifier(tmp_path / "clf.npz", log=None)
    with pytest.raises(FileNotFoundError, match="python -m tinygan.classifier"):
        C.load_classifier(tmp_path / "missing.npz")


def test_mnist_metrics_wiring_on_real_vs_itself(xp, synthetic_mnist, monkeypatch, tmp_path):
    """evaluate_mnist of the 'test' digits themselves: FID 0, precision = recall = 1."""
    from tinygan.metrics import mnist as M

    monkeypatch.setattr(M, "_cache", {})
    monkeypatch.setattr(M, "PARZEN_VALID", slice(0, 50))
    clf = C.train_and_save(tmp_path / "clf.npz", log=None)
    x_test, _ = synthetic_mnist["test"]
    out = metrics.evaluate_mnist(x_test, classifier=clf)
    assert out["n_samples"] == 100
    assert out["fid"] < 1e-6 and out["precision"] == 1.0 and out["recall"] == 1.0
    assert 5.0 < out["inception_score"] <= 10.0  # rather confident, balanced classes
    assert out["parzen_sigma"] in metrics.PARZEN_SIGMAS
    assert all(isinstance(v, (int, float)) for v in out.values())
    assert metrics.fid(x_test, classifier=clf) == out["fid"]
    noise = numpy.random.default_rng(0).uniform(-1, 1, (100, 784)).astype(numpy.float32)
    assert metrics.fid(noise, classifier=clf) > 1.0
    assert metrics.parzen_mnist(noise).mean < out["parzen_log_likelihood"]


@pytest.mark.slow
def test_the_recipe_retrains_the_shipped_classifier(xp, mnist_dir, tmp_path):
    """`python -m tinygan.classifier` (about a minute on a CPU): >= 98.5% test accuracy,
    and on NumPy with one BLAS thread, as the shipped weights were trained, the very
    network that is shipped. Training is deterministic for a fixed thread count; with
    more BLAS threads the matrix products sum in another order and the weights drift
    apart by round-off amplified over 10 epochs."""
    if xp is not numpy:
        clf = C.train_and_save(tmp_path / "clf.npz", log=None)
        assert clf.meta["test_accuracy"] >= C.MIN_ACCURACY
        return
    out = tmp_path / "clf.npz"
    one_thread = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    subprocess.run([sys.executable, "-m", "tinygan.classifier", "--out", str(out)],
                   env={**os.environ, **one_thread}, check=True, capture_output=True, timeout=600)
    clf, shipped = C.load_classifier(out, log=None), C.load_classifier(log=None)
    assert clf.meta["test_accuracy"] >= C.MIN_ACCURACY
    x, _ = tinygan.data.load_mnist("test")
    numpy.testing.assert_allclose(to_numpy(clf.outputs(x[:500]).probs),
                                  to_numpy(shipped.outputs(x[:500]).probs), rtol=1e-4, atol=1e-5)
