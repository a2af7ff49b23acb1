"""The MNIST classifier behind the metrics: its training code, batched inference, the
cache round trip and the accuracy gate (fast, on synthetic digits), and the real thing
(slow: trains on MNIST for a few minutes on first use)."""
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


def test_cache_path_honours_xdg_and_names_the_architecture(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = C.cache_path()
    assert path == str(tmp_path / "tinygan" / "classifier" / (C.arch_hash() + ".npz"))
    assert len(C.arch_hash()) == 16 and C.arch_hash() == C.arch_hash()
    monkeypatch.setitem(C.RECIPE, "epochs", 99)  # any recipe change -> another file
    assert C.cache_path() != path


@pytest.fixture
def synthetic_mnist(monkeypatch, tmp_path):
    """load_mnist replaced by small synthetic digits, the cache in a temporary folder,
    and a 40-step recipe: the whole train-save-load-verify path in seconds."""
    data = {"train": _synthetic_digits(200, seed=1), "test": _synthetic_digits(100, seed=2)}
    monkeypatch.setattr(tinygan.data, "load_mnist", lambda split="train", **kw: data[split])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(C.RECIPE, "epochs", 4)
    monkeypatch.setitem(C.RECIPE, "batch_size", 20)
    return data


def test_load_trains_once_saves_and_round_trips(xp, synthetic_mnist):
    lines = []
    first = C.load_classifier(log=lines.append)
    assert any("training it once" in line for line in lines)
    path = C.cache_path()
    arrays, meta = tinygan.checkpoint.load(path)
    assert meta["test_accuracy"] == 1.0 and meta["arch_hash"] == C.arch_hash()
    lines.clear()
    second = C.load_classifier(log=lines.append)  # from the cache: no training
    assert not any("training" in line for line in lines)
    assert any("test accuracy 100.00%" in line for line in lines)
    x = synthetic_mnist["test"][0]
    numpy.testing.assert_array_equal(to_numpy(first.outputs(x).features),
                                     to_numpy(second.outputs(x).features))


def test_load_refuses_an_inaccurate_classifier(xp, synthetic_mnist):
    C.load_classifier(log=None)
    x, y = synthetic_mnist["test"]
    synthetic_mnist["test"] = (x, (y + 1) % 10)  # every label now wrong
    with pytest.raises(RuntimeError, match="0.00% test accuracy"):
        C.load_classifier(log=None)
    with pytest.raises(FileNotFoundError):
        C.load_classifier(path=str(C.cache_path()) + ".missing", train_if_missing=False)


def test_mnist_metrics_wiring_on_real_vs_itself(xp, synthetic_mnist, monkeypatch):
    """evaluate_mnist of the 'test' digits themselves: FID 0, precision = recall = 1."""
    from tinygan.metrics import mnist as M

    monkeypatch.setattr(M, "_cache", {})
    monkeypatch.setattr(M, "PARZEN_VALID", slice(0, 50))
    clf = C.load_classifier(log=None)
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
def test_real_classifier_accuracy_and_cache(xp, mnist_dir):
    """Trains on MNIST on first use (minutes on a CPU); >= 98.5% test accuracy, stored
    in the checkpoint's meta, and the cached weights give the same outputs again."""
    lines = []
    clf = C.load_classifier(log=lines.append)
    assert any("test accuracy" in line for line in lines)  # printed on every load
    x, y = tinygan.data.load_mnist("test")
    acc = clf.accuracy(x, y)
    assert acc >= C.MIN_ACCURACY
    arrays, meta = tinygan.checkpoint.load(C.cache_path())
    assert meta["arch_hash"] == C.arch_hash()
    assert abs(meta["test_accuracy"] - acc) <= 5e-4  # a few digits may flip across backends
    again = C.load_classifier(log=None)
    numpy.testing.assert_allclose(to_numpy(again.outputs(x[:500]).probs),
                                  to_numpy(clf.outputs(x[:500]).probs), rtol=1e-5, atol=1e-6)
