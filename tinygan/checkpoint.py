"""Atomic, pickle-free checkpoints: named arrays plus a JSON ``meta`` dict in one .npz.

File format: a standard NumPy ``.npz`` (a zip of ``.npy`` members, readable with
``numpy.load(path, allow_pickle=False)``). Each array is stored under its own name;
``meta`` is JSON text stored as a uint8 array under the reserved name ``"__meta__"``.

Atomicity: :func:`save` writes a temporary file in the destination folder, flushes and
fsyncs it, then ``os.replace``-s it over ``path`` (atomic on POSIX and Windows within
one file system) and fsyncs the folder. A crash or error mid-save leaves the previous
checkpoint intact and removes the temporary file.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping

import numpy as np

from .atomic import atomic_open
from .backend import to_numpy

__all__ = ["save", "load", "load_meta", "CheckpointError", "META_KEY"]

#: Name under which the JSON meta is stored; not allowed as an array name.
META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated or was not written by :func:`save`."""


def _host_arrays(arrays) -> dict:
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a dict of name -> array, got {type(arrays).__name__}")
    host = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"array names must be non-empty strings, got {key!r}")
        if key == META_KEY:
            raise ValueError(f"array name {META_KEY!r} is reserved for the checkpoint's meta")
        a = to_numpy(value)  # device -> host (CuPy), or the array itself
        if a.dtype.hasobject:
            raise TypeError(
                f"array {key!r} has dtype {a.dtype}: object arrays would need pickle; "
                "store numbers in numeric arrays and everything else in meta"
            )
        host[key] = a
    return host


def _meta_array(meta) -> np.ndarray:
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    try:
        text = json.dumps(dict(meta))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"meta must be JSON-serialisable (str, int, float, bool, None, list, dict): {err}"
        ) from err
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _write_npz(file, arrays: dict) -> None:
    """The members of an .npz, written as ``numpy.savez`` does (zip of .npy files,
    no pickle). Writing the zip here rather than calling ``np.savez(file, **arrays)``
    keeps array names like ``file`` or ``allow_pickle`` from clashing with its keywords."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, a in arrays.items():
            with zf.open(key + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(a), allow_pickle=False)


def save(path, arrays, meta) -> str:
    """Write ``arrays`` (name -> NumPy/CuPy array) and ``meta`` (JSON-able dict) to ``path``
    atomically. Device arrays are copied to the host. Returns ``path``.

    ``path`` is used as given (use the ``.npz`` suffix); missing parent folders are
    created. JSON turns tuples into lists, so compare meta after a round trip with that
    in mind.
    """
    path = os.fspath(path)
    host = _host_arrays(arrays)
    host[META_KEY] = _meta_array(meta)
    with atomic_open(path, "wb", durable=True) as f:
        _write_npz(f, host)
    return path


def _check_file(path: str) -> None:
    """FileNotFoundError or CheckpointError before anything is parsed."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    with open(path, "rb") as f:
        signature = f.read(6)
    if signature == b"\x93NUMPY":
        raise CheckpointError(f"{path}: a single .npy array, not a tinygan checkpoint (.npz)")
    if not signature.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"{path}: not a tinygan checkpoint (no .npz/zip signature; "
                              f"empty or overwritten file?)")


_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile)


def _read(path, meta_only: bool):
    """``(arrays, meta)`` of the checkpoint at ``path`` (``arrays`` empty when ``meta_only``:
    no array is read)."""
    _check_file(path)
    try:
        with np.load(path, allow_pickle=False) as npz:  # never unpickles: refuses pickled data
            # reads (and CRC-checks) every member asked for
            arrays = {key: npz[key] for key in npz.files if not meta_only or key == META_KEY}
    except _READ_ERRORS as err:
        raise CheckpointError(f"{path}: unreadable checkpoint: corrupt, truncated or pickled "
                              f"({type(err).__name__}: {err})") from err
    if META_KEY not in arrays:
        raise CheckpointError(
            f"{path}: no {META_KEY!r} entry; not written by tinygan.checkpoint.save")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: the {META_KEY!r} entry is not valid JSON ({err})") from err
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the {META_KEY!r} entry is not a JSON object")
    return arrays, meta


def load(path):
    """Read a checkpoint written by :func:`save`: ``(arrays, meta)`` with ``arrays`` a
    dict of host NumPy arrays and ``meta`` the dict that was saved.

    Raises FileNotFoundError when ``path`` does not exist and :class:`CheckpointError`
    (naming the file) when it is corrupt, truncated or lacks the meta entry.
    """
    return _read(path, meta_only=False)


def load_meta(path) -> dict:
    """Only the ``meta`` dict of a checkpoint (its arrays are not read); the errors of
    :func:`load`."""
    return _read(path, meta_only=True)[1]
