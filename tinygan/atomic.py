"""Atomic file writes: nothing tinygan saves is ever seen half-written.

The content goes to a temporary file in the destination's folder (the same file system,
so the rename is atomic on POSIX and Windows), which ``os.replace`` then moves over the
destination. A failure part-way removes the temporary file and leaves any previous file
untouched: checkpoints, sample grids, ``samples.npy`` and cached metrics all rely on it.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

_umask = os.umask(0)
os.umask(_umask)


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", durable: bool = False, **open_kwargs):
    """``with atomic_open(path) as f: f.write(...)`` writes ``path`` all at once or not at all.

    ``durable=True`` also fsyncs the data before the rename and the folder after it, so
    the new file survives a power cut (checkpoints). Missing parent folders are created;
    the file gets the user's umask permissions.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())  # the data is on disk before the rename shows it
        os.chmod(tmp, 0o666 & ~_umask)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    if durable:
        _fsync_dir(folder)


def _fsync_dir(folder: str) -> None:
    """Persist the rename itself (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
