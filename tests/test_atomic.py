"""atomic_open: the destination holds the old content or the whole new one, never a part."""
import os
import stat

import pytest

from tinygan.atomic import atomic_open


def test_atomic_open_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "file.bin"
    with atomic_open(path) as f:
        f.write(b"first")
    with atomic_open(path, durable=True) as f:
        f.write(b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["file.bin"]           # no temporary left behind
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


def test_atomic_open_failure_keeps_previous_file(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("good")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write("half of the new cont")
            raise RuntimeError("disk full")
    assert path.read_text() == "good"
    assert os.listdir(tmp_path) == ["file.txt"]
