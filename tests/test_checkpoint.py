"""tinygan.checkpoint: round trip, atomicity, no pickle, clear errors."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from tinygan import checkpoint, to_numpy
from tinygan.checkpoint import META_KEY, CheckpointError

META = {"g_steps": 12, "config": {"loss": "wgan-gp", "lam": 10.0, "betas": [0.0, 0.9]},
        "rng": {"state": 2 ** 100 + 7}, "history": [1.5, float("nan")], "note": None}


def assert_meta_equal(got, expected):
    """Equal, reading NaN == NaN (a diverged run's last loss may be NaN)."""
    assert got.keys() == expected.keys()
    assert repr(got) == repr(expected)


def test_round_trip(xp, rng, tmp_path):
    arrays = {
        "G.0.W": rng.standard_normal((5, 3), dtype=xp.float32),
        "G.0.b": xp.zeros(3, dtype=xp.float32),
        "opt.t": xp.asarray(7, dtype=xp.int64),            # 0-d
        "D.bn.running_var": xp.ones((4,), dtype=xp.float64),
        "file": xp.arange(3), "allow_pickle": xp.arange(2),  # names that clash with np.savez
    }
    path = tmp_path / "ckpt.npz"
    assert checkpoint.save(path, arrays, META) == str(path)
    loaded, meta = checkpoint.load(path)
    assert set(loaded) == set(arrays)
    for key, a in arrays.items():
        got = loaded[key]
        assert isinstance(got, np.ndarray) and got.dtype == a.dtype and got.shape == a.shape
        np.testing.assert_array_equal(got, to_numpy(a))
    assert_meta_equal(meta, META)


def test_plain_numpy_reads_it_without_pickle(tmp_path):
    path = checkpoint.save(tmp_path / "c.npz", {"w": np.arange(4.0)}, {"epoch": 3})
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(["w", META_KEY])
        assert npz[META_KEY].dtype == np.uint8
        assert bytes(npz[META_KEY]) == b'{"epoch": 3}'
        assert all(npz[k].dtype != object for k in npz.files)


def test_overwrite_atomic_on_failure(tmp_path, monkeypatch):
    """A failure half-way through writing leaves the previous checkpoint intact."""
    path = tmp_path / "c.npz"
    checkpoint.save(path, {"w": np.full(100, 1.0)}, {"version": 1})
    real_write = np.lib.format.write_array
    written = []

    def failing_write(fp, array, **kwargs):
        written.append(array.shape)
        if len(written) == 2:  # the first member is written, then the disk "fails"
            fp.write(b"\x00" * 64)
            raise OSError("disk full")
        return real_write(fp, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, {"w": np.full(100, 2.0), "v": np.zeros(3)}, {"version": 2})
    monkeypatch.undo()
    arrays, meta = checkpoint.load(path)
    assert meta == {"version": 1} and np.all(arrays["w"] == 1.0) and "v" not in arrays
    assert os.listdir(tmp_path) == ["c.npz"]  # the temporary file was removed


def test_file_mode_follows_umask_and_parents_created(tmp_path):
    path = checkpoint.save(tmp_path / "runs" / "a" / "c.npz", {"w": np.zeros(2)}, {})
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        checkpoint.load(tmp_path / "nope.npz")


def corrupt_variants(tmp_path):
    good = checkpoint.save(tmp_path / "good.npz", {"w": np.arange(20000, dtype=np.float32)},
                           {"epoch": 1})
    blob = open(good, "rb").read()
    variants = {
        "truncated.npz": blob[: len(blob) // 2],
        "empty.npz": b"",
        "garbage.npz": b"not a zip file" * 100,
        "flipped.npz": blob[: len(blob) // 2] + bytes([blob[len(blob) // 2] ^ 0xFF])
                       + blob[len(blob) // 2 + 1:],  # CRC-32 of the member no longer matches
    }
    for name, content in variants.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "nometa.npz", w=np.zeros(2))
    np.save(tmp_path / "single.npy", np.zeros(2))
    np.savez(tmp_path / "pickled.npz", w=np.array([{"a": 1}], dtype=object),
             **{META_KEY: np.frombuffer(b"{}", np.uint8)})
    with zipfile.ZipFile(tmp_path / "badjson.npz", "w") as zf:
        with zf.open(META_KEY + ".npy", "w") as member:
            np.lib.format.write_array(member, np.frombuffer(b"{oops", np.uint8))
    return list(variants) + ["nometa.npz", "single.npy", "pickled.npz", "badjson.npz"]


def test_corrupt_files_give_checkpoint_error(tmp_path):
    for name in corrupt_variants(tmp_path):
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            checkpoint.load(tmp_path / name)
    assert issubclass(CheckpointError, ValueError)


def test_pickled_member_is_never_unpickled(tmp_path, monkeypatch):
    corrupt_variants(tmp_path)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(CheckpointError, match="pickle"):
        checkpoint.load(tmp_path / "pickled.npz")


@pytest.mark.parametrize("arrays, meta, error, words", [
    ({META_KEY: np.zeros(1)}, {}, ValueError, "reserved"),
    ({"": np.zeros(1)}, {}, ValueError, "non-empty"),
    ({1: np.zeros(1)}, {}, ValueError, "non-empty strings"),
    ({"o": np.array([None, 1], dtype=object)}, {}, TypeError, "object"),
    ([np.zeros(1)], {}, TypeError, "dict of name"),
    ({"w": np.zeros(1)}, [1, 2], TypeError, "meta must be a dict"),
    ({"w": np.zeros(1)}, {"x": object()}, TypeError, "JSON-serialisable"),
])
def test_save_refuses_bad_input(tmp_path, arrays, meta, error, words):
    with pytest.raises(error, match=words):
        checkpoint.save(tmp_path / "c.npz", arrays, meta)
    assert os.listdir(tmp_path) == []
