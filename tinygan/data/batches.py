"""Shuffled minibatches that live on the device, and one-hot labels.

The data set is copied to the backend device once; each epoch draws its permutation
on the device, so a training step never moves data between host and device.

Resuming: the permutation of epoch ``e`` is drawn from a generator seeded by
``(seed, e)`` alone (not from a generator carried across epochs), so the state to
restore is two counters (epoch, next batch) and a resumed run sees exactly the batch
sequence the uninterrupted run would have seen, on NumPy and CuPy alike (CuPy's
generator state cannot be read back portably).
"""
from __future__ import annotations

import numpy

from .. import backend, checks
from ..backend import get_array_module

__all__ = ["Minibatches", "one_hot"]


class Minibatches:
    """Shuffled minibatches of ``x`` (and labels ``y``) on the current backend.

    ``x``: array of shape (N, ...) (e.g. (N, 784) or (N, 1, 28, 28)); ``y``: None or
    (N,) labels. Both are copied to the device once (``backend.asarray``; on NumPy this
    is the array itself, no copy). ``batch_size`` m in 1..N; with ``drop_last`` the
    final N mod m samples of each epoch's permutation are skipped (every batch has m
    rows, as the GAN algorithms assume), otherwise the last batch is smaller.

    ``for xb, yb in batches.epoch(): ...`` yields (m, ...) device arrays (``yb`` is None
    without labels). Each epoch visits the samples in a new order: the argsort of
    uniform keys drawn on the device from a generator seeded by (seed, epoch).
    ``len(batches)`` is the number of batches per epoch.
    """

    def __init__(self, x, y=None, batch_size: int = 64, seed: int = 0, drop_last: bool = True):
        if getattr(x, "ndim", 0) < 1:
            raise ValueError("x must be an array of shape (N, ...), got a scalar or non-array")
        n = int(x.shape[0])
        if n < 1:
            raise ValueError("x holds no samples (N = 0)")
        if y is not None:
            if getattr(y, "ndim", None) != 1:
                raise ValueError(f"y must have shape (N,), got {getattr(y, 'shape', type(y))}")
            if int(y.shape[0]) != n:
                raise ValueError(f"x holds {n} samples but y holds {int(y.shape[0])} labels")
        self.batch_size = checks.integer(batch_size, "batch_size", "Minibatches", 1, n)
        self.seed = checks.integer(seed, "seed", "Minibatches", 0)
        self.drop_last = bool(drop_last)
        self.n = n
        self.x = backend.asarray(x)  # the one host -> device copy
        self.y = None if y is None else backend.asarray(y)
        self._epoch = 0  # index of the epoch in progress (or next to start)
        self._batch = 0  # index of the next batch within it

    def __len__(self) -> int:
        m = self.batch_size
        return self.n // m if self.drop_last else -(-self.n // m)

    @property
    def epochs_done(self) -> int:
        """Completed epochs (a partly served epoch does not count)."""
        return self._epoch

    def permutation(self, epoch: int):
        """The device order of ``epoch``: argsort of uniform keys from a generator
        seeded by (seed, epoch). float64 keys make ties (which would bias the order)
        practically impossible; they are drawn once per epoch, not per step."""
        xp = get_array_module(self.x)
        # SeedSequence mixes (seed, epoch) on the host; NumPy and CuPy both accept it.
        rng = xp.random.default_rng(numpy.random.SeedSequence([self.seed, epoch]))
        return xp.argsort(rng.random(self.n, dtype=xp.float64))

    def epoch(self):
        """Yield ``(xb, yb)`` for the rest of the current epoch, then advance the epoch.

        The counters move before each yield, so :meth:`state_dict` taken while holding
        a batch points at the *next* batch: restoring it continues right after the
        batch already trained on. Leaving the loop early leaves the epoch open; the
        next ``epoch()`` call serves its remaining batches.
        """
        order = self.permutation(self._epoch)
        m, n_batches = self.batch_size, len(self)
        for i in range(self._batch, n_batches):
            index = order[i * m:(i + 1) * m]
            if i + 1 == n_batches:
                self._epoch, self._batch = self._epoch + 1, 0
            else:
                self._batch = i + 1
            yield self.x[index], (None if self.y is None else self.y[index])  # device gathers

    __iter__ = epoch

    def state_dict(self) -> dict:
        """JSON-able position: {"seed", "epoch", "batch", "batch_size", "n", "drop_last"}."""
        return {"seed": self.seed, "epoch": self._epoch, "batch": self._batch,
                "batch_size": self.batch_size, "n": self.n, "drop_last": self.drop_last}

    def load_state_dict(self, state: dict) -> None:
        """Restore a position saved by :meth:`state_dict` on the same data and batching."""
        for key in ("n", "batch_size", "drop_last"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"Minibatches state was saved with {key}={state[key]!r}, this loader has "
                    f"{key}={getattr(self, key)!r}: the batch sequence would differ"
                )
        for key in ("seed", "epoch", "batch"):
            if key not in state:
                raise KeyError(f"Minibatches state is missing {key!r}")
        self.seed = checks.integer(state["seed"], "seed", "Minibatches", 0)
        self._epoch = checks.integer(state["epoch"], "epoch", "Minibatches", 0)
        self._batch = checks.integer(state["batch"], "batch", "Minibatches", 0, max(len(self) - 1, 0))

    def __repr__(self):
        return (f"Minibatches(n={self.n}, batch_size={self.batch_size}, seed={self.seed}, "
                f"drop_last={self.drop_last}, epoch={self._epoch}, batch={self._batch})")


def one_hot(labels, n_classes: int, check: bool | None = None):
    """One-hot rows: ``Y[i, k] = 1 if labels[i] == k else 0``, float32, shape (m, n_classes).

    ``labels``: integer array (m,) on the host or the device; the result is on the
    backend device. The range 0 <= label < n_classes is checked when ``labels`` is a host
    array (free) or when ``check=True``; for device labels the check would cost a
    device -> host sync, so inside a training step it is skipped unless asked for (an
    out-of-range label then gives an all-zero row).
    """
    n_classes = checks.integer(n_classes, "n_classes", "one_hot", 1)
    on_host = isinstance(labels, (numpy.ndarray, list, tuple))
    labels = backend.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (m,), got {tuple(labels.shape)}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be an integer array, got dtype {labels.dtype}")
    if (on_host if check is None else check) and labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= n_classes:
            raise ValueError(f"labels must lie in 0..{n_classes - 1}, got values in {low}..{high}")
    xp = get_array_module(labels)
    return (labels[:, None] == xp.arange(n_classes, dtype=labels.dtype)).astype(xp.float32)
