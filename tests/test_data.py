"""tinygan.data: IDX parsing, look-up order, download (no network), real MNIST,
device minibatches, one-hot labels, 2-D toy distributions."""
import gzip
import hashlib
import json
import math
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from tinygan import data, to_numpy
from tinygan.data import mnist

TRAIN_IMAGES, TRAIN_LABELS = mnist.FILES["train"]


# -- helpers: tiny IDX files written by the tests ---------------------------------------

def idx_bytes(magic, dims, payload):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + bytes(payload)


def write_gz(path, raw):
    path.write_bytes(gzip.compress(raw, mtime=0))
    return path


def make_split(folder, n=5, seed=0, n_labels=None):
    """Valid gzip IDX train files with n digits; returns (pixels uint8, labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    pixels = r.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = 0, 255  # the two ends of the scale
    labels = r.integers(0, 10, size=n_labels or n, dtype=np.uint8)
    write_gz(folder / TRAIN_IMAGES, idx_bytes(2051, (n, 28, 28), pixels.tobytes()))
    write_gz(folder / TRAIN_LABELS, idx_bytes(2049, (len(labels),), labels.tobytes()))
    return pixels, labels


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pin(monkeypatch, folder):
    """Pin the sums of the test-made files (as if they were the originals)."""
    for name in (TRAIN_IMAGES, TRAIN_LABELS):
        path = folder / name
        monkeypatch.setitem(mnist.SHA256, name, sha(path))
        raw = gzip.decompress(path.read_bytes())
        monkeypatch.setitem(mnist.SHA256_RAW, name, hashlib.sha256(raw).hexdigest())


@pytest.fixture(autouse=True)
def isolated(request, tmp_path, monkeypatch):
    """No real cache, no TINYGAN_DATA (except for the real-MNIST test), no network, no
    parsed-array cache across tests."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if "mnist_dir" not in request.fixturenames:
        monkeypatch.delenv("TINYGAN_DATA", raising=False)

    def no_network(url, dest):
        raise AssertionError(f"test tried to fetch {url}")

    monkeypatch.setattr(mnist, "_fetch", no_network)
    data.clear_cache()
    yield
    data.clear_cache()


# -- the IDX parser -----------------------------------------------------------------------

def test_load_small_split_scaling_and_shapes(tmp_path, monkeypatch):
    pixels, labels = make_split(tmp_path / "d")
    pin(monkeypatch, tmp_path / "d")
    x, y = data.load_mnist("train", data_dir=tmp_path / "d", download=False)
    assert x.shape == (5, 784) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    expected = pixels.reshape(5, 784).astype(np.float64) / 127.5 - 1
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-6)
    assert x[0, 0] == -1.0 and x[0, 1] == 1.0
    x4, _ = data.load_mnist("train", data_dir=tmp_path / "d", flatten=False, download=False)
    assert x4.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(x4.reshape(5, 784), x)
    x4[...] = 0  # a fresh array each call: the cache is not affected
    x_again, _ = data.load_mnist("train", data_dir=tmp_path / "d", download=False)
    np.testing.assert_array_equal(x_again, x)


def test_read_idx_labels_and_images(tmp_path):
    write_gz(tmp_path / "l.gz", idx_bytes(2049, (3,), [7, 0, 9]))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "l.gz", "labels"), [7, 0, 9])
    write_gz(tmp_path / "i.gz", idx_bytes(2051, (2, 28, 28), [3] * 1568))
    images = data.read_idx(tmp_path / "i.gz", "images")
    assert images.shape == (2, 28, 28) and images.dtype == np.uint8 and (images == 3).all()


@pytest.mark.parametrize("raw, words", [
    (idx_bytes(2051, (2, 28, 28), [0] * 1000), ["truncated", "1568", "1000"]),
    (idx_bytes(2051, (1, 28, 28), [0] * 800), ["trailing", "784", "800"]),
    (idx_bytes(2049, (1, 28, 28), [0] * 784), ["magic number 2049", "expected 2051"]),
    (idx_bytes(0x0D03, (1, 28, 28), [0] * 3136), ["magic number 3331", "unsigned bytes"]),
    (b"\x00\x00\x08", ["too short"]),
    (idx_bytes(2051, (1,), []), ["header needs 16"]),
])
def test_malformed_idx_names_file_and_expectation(tmp_path, raw, words):
    path = write_gz(tmp_path / "bad-images.gz", raw)
    with pytest.raises(data.MNISTFormatError) as info:
        data.read_idx(path, "images")
    message = str(info.value)
    assert "bad-images.gz" in message
    for word in words:
        assert word in message


def test_not_gzip_and_truncated_gzip(tmp_path):
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"this is not a gzip stream at all" * 10)
    with pytest.raises(data.MNISTFormatError, match="garbage.gz.*not a valid gzip"):
        data.read_idx(garbage, "images")
    good = gzip.compress(idx_bytes(2051, (3, 28, 28), np.arange(2352) % 256), mtime=0)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(data.MNISTFormatError, match="cut.gz.*not a valid gzip"):
        data.read_idx(cut, "images")


def test_count_mismatch_names_both_files(tmp_path, monkeypatch):
    make_split(tmp_path / "d", n=5, n_labels=4)
    pin(monkeypatch, tmp_path / "d")
    with pytest.raises(data.MNISTFormatError) as info:
        data.load_mnist("train", data_dir=tmp_path / "d", download=False)
    message = str(info.value)
    assert TRAIN_IMAGES in message and TRAIN_LABELS in message
    assert "5 images" in message and "4 labels" in message


def test_label_out_of_range(tmp_path, monkeypatch):
    folder = tmp_path / "d"
    make_split(folder, n=2)
    write_gz(folder / TRAIN_LABELS, idx_bytes(2049, (2,), [3, 12]))
    pin(monkeypatch, folder)
    with pytest.raises(data.MNISTFormatError, match="label 12 outside 0..9"):
        data.load_mnist("train", data_dir=folder, download=False)


def test_local_checksum_mismatch_refused_recompressed_accepted(tmp_path, monkeypatch):
    folder = tmp_path / "d"
    make_split(folder)
    with pytest.raises(data.MNISTChecksumError, match=TRAIN_IMAGES):
        data.load_mnist("train", data_dir=folder, download=False)
    # Same content, another gzip header (as a re-compressed copy): accepted by its raw sum.
    pin(monkeypatch, folder)
    monkeypatch.setitem(mnist.SHA256, TRAIN_IMAGES, "0" * 64)
    x, _ = data.load_mnist("train", data_dir=folder, download=False)
    assert x.shape == (5, 784)


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown split .*expected one of"):
        data.load_mnist("validation")


# -- where the files are looked for -----------------------------------------------------

def test_lookup_order(tmp_path, monkeypatch):
    arg, env, home = tmp_path / "arg", tmp_path / "env", tmp_path / "home"
    for folder in (arg / "mnist", env / "mnist", home / ".cache" / "tinygan" / "mnist"):
        folder.mkdir(parents=True)
        (folder / TRAIN_IMAGES).write_bytes(b"x")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TINYGAN_DATA", str(env))
    find = data.find_mnist_file
    assert find(TRAIN_IMAGES, data_dir=arg, download=False) == str(arg / "mnist" / TRAIN_IMAGES)
    assert find(TRAIN_IMAGES, download=False) == str(env / "mnist" / TRAIN_IMAGES)
    monkeypatch.delenv("TINYGAN_DATA")
    assert find(TRAIN_IMAGES, download=False) == str(home / ".cache/tinygan/mnist" / TRAIN_IMAGES)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == str(tmp_path / "xdg" / "tinygan" / "mnist")
    with pytest.raises(data.MNISTNotFoundError) as info:
        find(TRAIN_IMAGES, download=False)
    assert data.cache_dir() in str(info.value) and "TINYGAN_DATA" in str(info.value)


def test_search_dirs_order(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGAN_DATA", str(tmp_path / "env"))
    assert data.search_dirs(tmp_path / "arg") == [
        str(tmp_path / "arg"), str(tmp_path / "arg" / "mnist"),
        str(tmp_path / "env" / "mnist"), data.cache_dir(),
    ]


# -- downloading (the network is replaced by test-made bytes) -------------------------------

def serve(monkeypatch, payloads, calls):
    """Replace _fetch: mirror URL prefix -> bytes to write, or an exception to raise."""
    def fake_fetch(url, dest):
        cache = data.cache_dir()
        calls.append((url, dest, os.path.exists(os.path.join(cache, os.path.basename(url)))))
        payload = payloads[url.rsplit("/", 1)[0] + "/"]
        with open(dest, "wb") as f:
            f.write(payload if isinstance(payload, bytes) else b"partial")
        if not isinstance(payload, bytes):
            raise payload
    monkeypatch.setattr(mnist, "_fetch", fake_fetch)


def test_download_verified_and_atomic(tmp_path, monkeypatch):
    content = gzip.compress(idx_bytes(2049, (3,), [1, 2, 3]), mtime=0)
    monkeypatch.setitem(mnist.SHA256, TRAIN_LABELS, hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(mnist, "MIRRORS", ["mock://bad/", "mock://good/"])
    calls = []
    serve(monkeypatch, {"mock://bad/": b"tampered bytes", "mock://good/": content}, calls)
    path = data.find_mnist_file(TRAIN_LABELS)
    final = os.path.join(data.cache_dir(), TRAIN_LABELS)
    assert path == final and open(final, "rb").read() == content
    assert [c[0] for c in calls] == ["mock://bad/" + TRAIN_LABELS, "mock://good/" + TRAIN_LABELS]
    for url, dest, final_existed in calls:
        assert os.path.dirname(dest) == data.cache_dir() and dest != final
        assert not final_existed  # written to a temp file, renamed only once verified
    assert os.listdir(data.cache_dir()) == [TRAIN_LABELS]  # no temp files left
    calls.clear()
    assert data.find_mnist_file(TRAIN_LABELS) == final and calls == []  # cached now


def test_download_bad_checksum_everywhere_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", ["mock://a/", "mock://b/"])
    serve(monkeypatch, {"mock://a/": b"wrong", "mock://b/": b"also wrong"}, [])
    with pytest.raises(data.MNISTChecksumError, match="pinned checksum") as info:
        data.find_mnist_file(TRAIN_LABELS)
    assert mnist.SHA256[TRAIN_LABELS] in str(info.value)
    assert os.listdir(data.cache_dir()) == []


def test_offline_error_lists_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", ["mock://a/", "mock://b/"])
    serve(monkeypatch, {"mock://a/": urllib.error.URLError("no route"),
                        "mock://b/": TimeoutError("timed out")}, [])
    with pytest.raises(data.MNISTNotFoundError) as info:
        data.load_mnist("train", data_dir=tmp_path / "mine")
    message = str(info.value)
    for folder in data.search_dirs(tmp_path / "mine"):
        assert folder in message
    assert "TINYGAN_DATA" in message and "no route" in message and TRAIN_IMAGES in message
    assert os.listdir(data.cache_dir()) == []  # the partial downloads were removed


def test_download_false_never_fetches(tmp_path):
    with pytest.raises(data.MNISTNotFoundError, match="download=False"):
        data.load_mnist("test", download=False)  # the autouse fixture fails any fetch


def test_real_fetch_from_file_url(tmp_path, monkeypatch):
    """The real urllib code path, served from a local file:// mirror."""
    monkeypatch.undo()  # restore the real _fetch ...
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # ... keep the isolation
    monkeypatch.delenv("TINYGAN_DATA", raising=False)
    mirror = tmp_path / "mirror"
    make_split(mirror, n=3)
    pin(monkeypatch, mirror)
    monkeypatch.setattr(mnist, "MIRRORS", [mirror.as_uri() + "/"])
    x, y = data.load_mnist("train")
    assert x.shape == (3, 784) and y.shape == (3,)
    assert sorted(os.listdir(data.cache_dir())) == sorted([TRAIN_IMAGES, TRAIN_LABELS])


# -- the real MNIST files (skips without TINYGAN_DATA) ------------------------------------

def test_real_mnist(mnist_dir):
    for name in mnist.SHA256:
        assert sha(Path(mnist_dir) / name) == mnist.SHA256[name]
    x, y = data.load_mnist("train", data_dir=mnist_dir)
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert y.shape == (60000,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10) > 5000, True)
    assert y[:5].tolist() == [5, 0, 4, 1, 9]  # the famous first digits
    xt, yt = data.load_mnist("test", data_dir=mnist_dir, flatten=False)
    assert xt.shape == (10000, 1, 28, 28) and yt.shape == (10000,)
    assert set(yt.tolist()) == set(range(10))
    assert -0.8 < float(x.mean()) < -0.7  # mean pixel 33.3 / 127.5 - 1 = -0.739


# -- device minibatches ------------------------------------------------------------------------

def labels_of(batches):
    return [int(v) for _, yb in batches.epoch() for v in yb.tolist()]


def test_minibatches_each_sample_once_on_device(xp):
    n = 103
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    batches = data.Minibatches(x, y, batch_size=10, seed=3, drop_last=False)
    assert len(batches) == 11
    seen = []
    for xb, yb in batches.epoch():
        assert isinstance(xb, xp.ndarray) and isinstance(yb, xp.ndarray)
        assert xb.dtype == xp.float32 and xb.shape[1:] == (3,)
        assert bool((xb[:, 0] == 3 * yb).all())  # rows stay paired with their labels
        seen += yb.tolist()
    assert sorted(seen) == list(range(n)) and seen != list(range(n))
    dropped = data.Minibatches(x, y, batch_size=10, seed=3)
    assert len(dropped) == 10
    sizes = [int(yb.shape[0]) for _, yb in dropped.epoch()]
    assert sizes == [10] * 10 and dropped.epochs_done == 1


def test_minibatches_deterministic_and_reshuffled(xp):
    y = np.arange(50)
    a = data.Minibatches(y.astype(np.float32)[:, None], y, batch_size=7, seed=1)
    b = data.Minibatches(y.astype(np.float32)[:, None], y, batch_size=7, seed=1)
    c = data.Minibatches(y.astype(np.float32)[:, None], y, batch_size=7, seed=2)
    first, second = labels_of(a), labels_of(a)
    assert first == labels_of(b) and second == labels_of(b)
    assert first != second and first != labels_of(c)
    xb, yb = next(iter(data.Minibatches(y.astype(np.float32)[:, None], batch_size=7).epoch()))
    assert yb is None and xb.shape == (7, 1)


def test_minibatches_resume_identical(xp):
    y = np.arange(40)
    x = y.astype(np.float32)[:, None]
    ref = data.Minibatches(x, y, batch_size=6, seed=5)
    labels_of(ref)
    reference_epoch1 = labels_of(ref)  # epoch 1 of an uninterrupted run
    reference_epoch2 = labels_of(ref)

    run = data.Minibatches(x, y, batch_size=6, seed=5)
    labels_of(run)
    served = []
    for i, (_, yb) in enumerate(run.epoch()):  # interrupted after 2 batches of epoch 1
        served += yb.tolist()
        if i == 1:
            state = json.loads(json.dumps(run.state_dict()))  # JSON-able, as in checkpoint meta
            break
    resumed = data.Minibatches(x, y, batch_size=6, seed=123)
    resumed.load_state_dict(state)
    assert served + labels_of(resumed) == reference_epoch1
    assert labels_of(resumed) == reference_epoch2


@pytest.mark.parametrize("kwargs, error", [
    (dict(batch_size=0), ValueError), (dict(batch_size=11), ValueError),
    (dict(batch_size=2.0), TypeError), (dict(batch_size=True), TypeError),
    (dict(seed=-1), ValueError),
])
def test_minibatches_validation(xp, kwargs, error):
    with pytest.raises(error, match="batch_size|seed"):
        data.Minibatches(np.zeros((10, 2), np.float32), **kwargs)


def test_minibatches_shape_checks(xp):
    with pytest.raises(ValueError, match="10 samples but y holds 9"):
        data.Minibatches(np.zeros((10, 2), np.float32), np.zeros(9, np.int64))
    batches = data.Minibatches(np.zeros((10, 2), np.float32), batch_size=5)
    other = data.Minibatches(np.zeros((10, 2), np.float32), batch_size=2)
    with pytest.raises(ValueError, match="batch_size=5"):
        other.load_state_dict(batches.state_dict())


def test_one_hot(xp):
    y = xp.asarray([2, 0, 3])
    onehot = data.one_hot(y, 4)
    assert isinstance(onehot, xp.ndarray) and onehot.dtype == xp.float32 and onehot.shape == (3, 4)
    np.testing.assert_array_equal(to_numpy(onehot), np.eye(4, dtype=np.float32)[[2, 0, 3]])
    with pytest.raises(ValueError, match="0..3"):
        data.one_hot(np.array([0, 4]), 4)  # host labels: always checked
    with pytest.raises(ValueError, match="0..3"):
        data.one_hot(xp.asarray([-1, 2]), 4, check=True)
    with pytest.raises(TypeError, match="integer"):
        data.one_hot(xp.asarray([0.0, 1.0]), 4)


# -- 2-D toy distributions -------------------------------------------------------------------

@pytest.mark.parametrize("name", data.TOY_NAMES)
def test_toy_shapes_and_backend(xp, rng, name):
    s = data.sample_toy(name, 500, rng)
    assert isinstance(s, xp.ndarray) and s.shape == (500, 2) and s.dtype == xp.float32
    assert bool(xp.isfinite(s).all()) and float(s.std()) > 0.1
    again = data.sample_toy(name, 500, xp.random.default_rng(1234))
    assert bool((again == s).all())  # the rng alone decides


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_toy_mixture_near_modes(xp, rng, name):
    """For an isotropic 2-D Gaussian, P(|x - mu| < 3 std) = 1 - exp(-9/2) = 0.9889."""
    centres, std = data.TOY_MODES[name]
    s = to_numpy(data.sample_toy(name, 20000, rng)).astype(np.float64)
    d = np.linalg.norm(s[:, None, :] - centres[None], axis=2)
    nearest = d.argmin(1)
    within = (d.min(1) < 3 * std).mean()
    assert abs(within - (1 - math.exp(-4.5))) < 0.004
    counts = np.bincount(nearest, minlength=len(centres))
    expected = 20000 / len(centres)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # equal weights


def test_toy_modes_protocol():
    ring, ring_std = data.TOY_MODES["ring8"]
    grid, grid_std = data.TOY_MODES["grid25"]
    assert ring.shape == (8, 2) and ring_std == 0.01
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0)
    np.testing.assert_allclose(ring[0], [1.0, 0.0])
    assert grid.shape == (25, 2) and grid_std == 0.05
    assert sorted(set(grid[:, 0])) == [-4, -2, 0, 2, 4]


def test_toy_continuous_in_unit_box(xp, rng):
    for name in ("swissroll", "spiral"):
        s = to_numpy(data.sample_toy(name, 5000, rng))
        assert np.mean(np.abs(s) <= 1.1) > 0.999
    r = np.linalg.norm(to_numpy(data.sample_toy("swissroll", 5000, rng)), axis=1)
    assert 0.25 < r.min() < 0.4 and r.max() > 0.9  # t/(4.5 pi) spans [1/3, 1]


def test_toy_bad_arguments():
    with pytest.raises(ValueError, match="ring8.*grid25.*swissroll.*spiral"):
        data.sample_toy("moons", 10)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        data.sample_toy("ring8", 0)
