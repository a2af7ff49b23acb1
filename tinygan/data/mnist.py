"""MNIST from its four original gzipped IDX files: find, download, verify, parse.

Where the files are looked for, in this order (the first folder holding a file wins):

1. the ``data_dir`` argument (the folder holding the ``.gz`` files, or its parent
   holding ``mnist/``);
2. ``$TINYGAN_DATA/mnist``;
3. the user cache, ``$XDG_CACHE_HOME/tinygan/mnist`` (default ``~/.cache/tinygan/mnist``);
4. a download from the public mirrors in :data:`MIRRORS` into the user cache.

Every file is checked against the SHA-256 pinned in :data:`SHA256` (the sums published
with the files in ``shared/data/mnist/SHA256SUMS``). A local file that was re-compressed
(same data, different gzip header) is still accepted when the SHA-256 of its
*decompressed* content matches :data:`SHA256_RAW`; anything else is refused, so every
metric in tinygan compares against the one true MNIST.

The IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a big-endian header
``0x00 0x00 <dtype> <ndim>`` followed by ``ndim`` uint32 sizes and the payload. MNIST
uses dtype 0x08 (unsigned byte): images have magic 2051 (ndim 3: N, 28, 28), labels
2049 (ndim 1: N). Every violation raises :class:`MNISTFormatError` naming the file.

The network is reached only through the module-level :func:`_fetch` (tests replace it).
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
import zlib

import numpy as np

from .. import checks

__all__ = [
    "load_mnist", "read_idx", "find_mnist_file", "search_dirs", "cache_dir",
    "clear_cache", "MNISTFormatError", "MNISTChecksumError", "MNISTNotFoundError",
    "FILES", "SHA256", "SHA256_RAW", "MIRRORS",
]

#: (images, labels) file names of each split.
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: SHA-256 of the original gzip files (shared/data/mnist/SHA256SUMS).
SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: SHA-256 of the decompressed IDX content (computed from the files above), so that a
#: re-gzipped copy of the same bytes is recognised.
SHA256_RAW = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public mirrors serving the original gzip files (tried in order).
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

#: Seconds before a silent connection counts as offline.
TIMEOUT_S = 30.0

_IDX_MAGIC = {"images": 2051, "labels": 2049}  # 0x00000803, 0x00000801: unsigned bytes
_N_CLASSES = 10
_ROWS = _COLS = 28

# Network failures that mean "try the next mirror" (HTTPError is a URLError).
_NETWORK_ERRORS = (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError,
                   http.client.HTTPException)

_parsed = {}  # (split, images path, labels path) -> (uint8 images, uint8 labels), read-only


class MNISTFormatError(ValueError):
    """A file is not a valid MNIST IDX file (bad gzip, magic, sizes, counts, checksum)."""


class MNISTChecksumError(MNISTFormatError):
    """A file's SHA-256 differs from the pinned sum of the original MNIST file."""


class MNISTNotFoundError(FileNotFoundError):
    """The MNIST files are neither on disk nor downloadable (offline)."""


# -- where the files live -----------------------------------------------------------

def cache_dir(name: str = "mnist") -> str:
    """The user cache folder ``name``: ``$XDG_CACHE_HOME/tinygan/<name>`` or
    ``~/.cache/tinygan/<name>`` (MNIST's files by default; the metrics keep theirs too)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tinygan", name)


def search_dirs(data_dir=None) -> list[str]:
    """The folders searched, in order: ``data_dir`` (and ``data_dir/mnist``),
    ``$TINYGAN_DATA/mnist``, the user cache."""
    dirs = []
    if data_dir is not None:
        dirs += [data_dir, os.path.join(data_dir, "mnist")]
    root = os.environ.get("TINYGAN_DATA")
    if root:
        dirs.append(os.path.join(root, "mnist"))
    dirs.append(cache_dir())
    return list(dict.fromkeys(os.path.abspath(os.path.expanduser(d)) for d in dirs))


def find_mnist_file(name: str, data_dir=None, download: bool = True) -> str:
    """Path of the verified file ``name`` (e.g. ``"train-images-idx3-ubyte.gz"``),
    downloading it into :func:`cache_dir` when no searched folder holds it."""
    checks.choice(name, "MNIST file", tuple(sorted(SHA256)), "find_mnist_file")
    dirs = search_dirs(data_dir)
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    if not download:
        raise MNISTNotFoundError(_where_to_put(name, dirs, "download=False was given"))
    return _download(name, dirs)


def _where_to_put(name: str, dirs, reason: str) -> str:
    names = ", ".join(n for pair in FILES.values() for n in pair)
    return (
        f"MNIST file {name} not found ({reason}). Searched: {', '.join(dirs)}. "
        f"Put the original files ({names}) into one of these folders, or point the "
        f"environment variable TINYGAN_DATA at a folder containing mnist/ with them "
        f"(mirrors: {', '.join(MIRRORS)})."
    )


# -- downloading ----------------------------------------------------------------------

def _fetch(url: str, dest: str) -> None:
    """Stream ``url`` into the open-able path ``dest`` with a tqdm progress bar.

    Module-level so tests can replace it (no test touches the network).
    """
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        total = response.headers.get("Content-Length")
        with tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                  desc=url.rsplit("/", 1)[-1], leave=False) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _download(name: str, dirs) -> str:
    """Try each mirror: fetch into a temporary file in the cache, check SHA-256, then
    ``os.replace`` it into place (atomic: no reader ever sees a partial file). A partial
    or mismatching download is removed."""
    target_dir = cache_dir()
    os.makedirs(target_dir, exist_ok=True)
    final = os.path.join(target_dir, name)
    failures, bad_sums = [], []
    for mirror in MIRRORS:
        url = mirror + name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=target_dir)
        os.close(fd)
        try:
            _fetch(url, tmp)
            got = sha256_file(tmp)
            if got != SHA256[name]:
                bad_sums.append(f"{url} gave SHA-256 {got}, expected {SHA256[name]}")
                continue
            os.replace(tmp, final)
            return final
        except _NETWORK_ERRORS as err:
            failures.append(f"{url}: {err}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    if bad_sums:
        raise MNISTChecksumError(
            f"downloaded {name} does not match the pinned checksum (the file was removed): "
            + "; ".join(bad_sums + failures)
        )
    raise MNISTNotFoundError(_where_to_put(name, dirs, "offline? " + "; ".join(failures)))


# -- parsing ----------------------------------------------------------------------------

def _gunzip(path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise MNISTFormatError(f"{path}: not a valid gzip file ({err})") from err


def read_idx(path, kind: str) -> np.ndarray:
    """Parse one gzipped IDX file of ``kind`` ``"images"`` or ``"labels"`` into uint8.

    Checks, each failing with :class:`MNISTFormatError` naming ``path``: valid gzip;
    header present; magic 2051 (images, ndim 3) or 2049 (labels, ndim 1) with dtype
    byte 0x08; payload length equal to the product of the header's sizes.
    """
    checks.choice(kind, "kind", tuple(_IDX_MAGIC), "read_idx")
    raw = _gunzip(path)
    expected_magic = _IDX_MAGIC[kind]
    expected_ndim = expected_magic & 0xFF
    header = 4 + 4 * expected_ndim
    if len(raw) < header:
        raise MNISTFormatError(f"{path}: {len(raw)} bytes, too short: the IDX header needs {header}")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise MNISTFormatError(
            f"{path}: magic number {magic} (0x{magic:08x}), expected {expected_magic} "
            f"(0x{expected_magic:08x}: unsigned bytes, {expected_ndim} dimension(s)) for "
            f"MNIST {kind}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_ndim))
    size = int(np.prod(dims, dtype=np.int64))
    payload = len(raw) - header
    if payload != size:
        what = "truncated" if payload < size else "has trailing bytes"
        raise MNISTFormatError(
            f"{path}: {what}: header says {' x '.join(map(str, dims))} = {size} bytes of "
            f"data, the file holds {payload}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read_verified(path: str, name: str, kind: str) -> np.ndarray:
    """``read_idx`` (format errors first: they say more), then accept the original file
    (gzip SHA-256) or a re-compressed copy of it (SHA-256 of the decompressed content);
    refuse anything else."""
    array = read_idx(path, kind)
    if sha256_file(path) == SHA256[name] or (
            hashlib.sha256(_gunzip(path)).hexdigest() == SHA256_RAW[name]):
        return array
    raise MNISTChecksumError(
        f"{path}: SHA-256 matches neither the original {name} ({SHA256[name]}) nor its "
        "decompressed content; the file is corrupt or not MNIST: delete it (a fresh copy "
        "is downloaded into the cache) or replace it with the original"
    )


def _load_split_uint8(split: str, data_dir, download: bool):
    names = FILES[split]
    image_path, label_path = paths = tuple(find_mnist_file(n, data_dir, download) for n in names)
    key = (split, *paths)
    if key in _parsed:
        return _parsed[key]
    images, labels = map(_read_verified, paths, names, ("images", "labels"))
    if images.shape[1:] != (_ROWS, _COLS):
        raise MNISTFormatError(
            f"{image_path}: images of {images.shape[1:]} pixels, expected (28, 28)")
    if images.shape[0] != labels.shape[0]:
        raise MNISTFormatError(
            f"{image_path} holds {images.shape[0]} images but {label_path} holds "
            f"{labels.shape[0]} labels; the counts must match"
        )
    if labels.size and labels.max() >= _N_CLASSES:
        raise MNISTFormatError(f"{label_path}: label {labels.max()} outside 0..9")
    _parsed[key] = (images, labels)  # uint8, read-only views of the decompressed bytes
    return images, labels


VALUE_RANGES = ((-1.0, 1.0), (0.0, 1.0))


def load_mnist(split: str = "train", data_dir=None, flatten: bool = True, download: bool = True,
               value_range=(-1.0, 1.0)):
    """MNIST ``split`` (``"train"``: 60,000 digits, ``"test"``: 10,000) as host arrays.

    Returns ``(x, y)``: ``x`` float32 in [-1, 1] (x = pixel / 127.5 - 1, the range of a
    tanh generator; ``value_range=(0, 1)``: x = pixel / 255, the range of a sigmoid
    generator and of pylearn2's MNIST), shape (N, 784) when ``flatten`` else
    (N, 1, 28, 28); ``y`` int64
    labels 0..9, shape (N,). Both are NumPy arrays (move them to the device with
    :class:`tinygan.data.Minibatches`), fresh on each call (the parsed uint8 bytes are
    cached per process, so a second call costs only the conversion).

    Raises :class:`MNISTNotFoundError` when the files are missing and cannot be
    downloaded, :class:`MNISTFormatError` when a file is corrupt.
    """
    checks.choice(split, "split", tuple(sorted(FILES)), "load_mnist")
    try:
        value_range = tuple(float(v) for v in value_range)
    except (TypeError, ValueError):
        value_range = None
    checks.choice(value_range, "value_range", VALUE_RANGES, "load_mnist")
    images, labels = _load_split_uint8(split, data_dir, download)
    x = images.astype(np.float32)  # the one copy: uint8 -> float32
    if value_range == (0.0, 1.0):
        x /= np.float32(255.0)
    else:
        x /= np.float32(127.5)
        x -= np.float32(1.0)
    shape = (-1, _ROWS * _COLS) if flatten else (-1, 1, _ROWS, _COLS)
    return x.reshape(shape), labels.astype(np.int64)


def clear_cache() -> None:
    """Forget the parsed files kept in memory (tests, or after replacing files)."""
    _parsed.clear()
