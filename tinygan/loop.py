"""The epoch loop around a trainer: progress bar, checkpoints, resume.

:func:`fit` runs ``trainer.step`` over the minibatches for some epochs. The trainer
owns the algorithm (one discriminator/critic update per call, a generator update every
k-th / n_critic-th call, :mod:`tinygan.train`); this module owns everything around it:

* a tqdm progress bar per epoch whose postfix shows the latest statistics. The 0-d
  device arrays returned by ``trainer.step`` are summed on the device; every
  ``log_every`` iterations (and at the last batch of each epoch) the sums are converted
  to Python floats and divided by the number of iterations: these conversions are the
  only host-device syncs of the loop, and the means over the interval go into the
  history (smoother curves than single-minibatch values, and a NaN anywhere in the
  interval still shows, since it propagates through the sum);
* divergence: a NaN or infinity in a logged statistic stops training with
  :class:`TrainingDiverged`, naming the iteration and the statistic. Checkpoints are
  only written at epoch ends after a finite check, so the last good checkpoint is left
  untouched, byte for byte;
* at each epoch end: an atomic checkpoint ``checkpoint.npz`` (trainer state,
  data-loader position, history, the epoch) through :mod:`tinygan.checkpoint`, no
  pickle; then the caller's ``on_epoch_end`` callback, e.g. the pictures of
  :class:`tinygan.plot.EpochPictures` (the loop itself draws nothing);
* resume: ``fit(..., resume=True)`` reloads that checkpoint and continues with the next
  epoch. Since the trainer restores its generator states and counters and the loader
  its position, the resumed run is bit-identical (on NumPy) to an uninterrupted one.

:func:`save_samples` writes generated samples as a float32 ``.npy`` for evaluation.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Callable, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from . import backend, checkpoint, checks
from .atomic import atomic_open
from .backend import get_array_module, to_numpy

__all__ = ["fit", "FitResult", "TrainingDiverged", "save_samples", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.npz"
_FORMAT = "tinygan.loop/1"
# History columns that are x coordinates rather than statistics of the step.
_X_COLUMNS = ("iteration", "g_step")


class TrainingDiverged(RuntimeError):
    """A logged statistic (or, at an epoch end, a weight) became NaN or infinite;
    training stopped.

    Attributes: ``step`` (the iteration, i.e. ``trainer.step`` calls, at which it was
    seen), ``name`` (the statistic or parameter), ``value`` (the float), ``epoch``
    (1-based epoch in progress), ``checkpoint_path`` (the last good checkpoint,
    untouched, or None).
    """

    def __init__(self, step: int, name: str, value: float, epoch: int | None = None,
                 checkpoint_path: str | None = None, log_every: int | None = None,
                 kind: str = "statistic"):
        self.step, self.name, self.value = step, name, value
        self.epoch, self.checkpoint_path = epoch, checkpoint_path
        where = f"iteration {step}" + (f" (epoch {epoch})" if epoch is not None else "")
        checked = (f"; statistics are checked every {log_every} iterations, so it may have "
                   f"started up to {log_every - 1} iterations earlier"
                   ) if log_every and log_every > 1 else ""
        kept = (f"the last good checkpoint {checkpoint_path} is left untouched"
                if checkpoint_path and os.path.exists(checkpoint_path)
                else "no checkpoint had been written yet")
        super().__init__(
            f"training diverged at {where}: {kind} {name!r} = {value}{checked}; {kept}. "
            "Resume from that checkpoint with a smaller learning rate, or start again with "
            "another loss."
        )


class FitResult(NamedTuple):
    """What :func:`fit` returns."""

    history: dict            # {name: [float, ...]}, one entry per logged iteration
                             # (statistics: means over the iterations since the last log)
    epochs_done: int         # epochs completed in total (including resumed ones)
    epoch_times: list        # wall seconds of each epoch run by this call
    checkpoint_path: str     # the checkpoint written at the last epoch end


# -- statistics --------------------------------------------------------------------
def _append(history: dict, row: dict) -> None:
    """Append one logged row; columns that appear late are padded with NaN in front
    and columns missing from this row get NaN, so every list keeps the same length."""
    n = len(history.get("iteration", []))
    for k in row:
        history.setdefault(k, [math.nan] * n)
    for k in history:
        history[k].append(row.get(k, math.nan))


def _check_finite(row: dict, iteration: int, epoch: int, ckpt: str, log_every: int) -> None:
    for k, v in row.items():
        if k not in _X_COLUMNS and not math.isfinite(v):
            raise TrainingDiverged(iteration, k, v, epoch, ckpt, log_every)


def _nonfinite_parameter(state: dict):
    """Name of the first parameter/buffer holding a NaN or inf, or None. One device
    reduction per array and a single host sync for all of them."""
    names = [k for k, a in state.items() if a.dtype.kind == "f"]
    if not names:
        return None
    flags = [get_array_module(state[k]).isfinite(state[k]).all() for k in names]
    ok = to_numpy(get_array_module(flags[0]).stack(flags))
    bad = np.flatnonzero(~ok)
    return names[bad[0]] if bad.size else None


# -- checkpoint ------------------------------------------------------------------
def _save_checkpoint(path, trainer, batches, history, epoch, iteration, run_meta=None) -> None:
    arrays = {"trainer." + k: v for k, v in trainer.state_dict().items()}
    arrays.update({"history." + k: np.asarray(v, dtype=np.float64) for k, v in history.items()})
    meta = {"format": _FORMAT, "epoch": epoch, "iteration": iteration,
            "history_columns": list(history), "trainer": trainer.meta(),
            "batches": batches.state_dict()}
    if run_meta is not None:
        meta["run"] = run_meta
    checkpoint.save(path, arrays, meta)


def _load_checkpoint(path, trainer, batches):
    """Restore trainer and loader from ``path``; returns (history, epoch, iteration)."""
    arrays, meta = checkpoint.load(path)
    if meta.get("format") != _FORMAT:
        raise checkpoint.CheckpointError(
            f"{path}: not a tinygan.loop checkpoint (format {meta.get('format')!r}, "
            f"expected {_FORMAT!r})")
    trainer.load_state_dict(
        {k[len("trainer."):]: v for k, v in arrays.items() if k.startswith("trainer.")},
        meta["trainer"])
    batches.load_state_dict(meta["batches"])
    history = {k: [float(v) for v in arrays["history." + k]] for k in meta["history_columns"]}
    return history, int(meta["epoch"]), int(meta["iteration"])


# -- the loop --------------------------------------------------------------------
def fit(trainer, batches, epochs: int, out_dir, *, log_every: int = 50, resume: bool = False,
        checkpoint_path=None, on_epoch_end: Callable | None = None,
        on_resume: Callable | None = None, run_meta: dict | None = None, progress: bool = True,
        log: Callable[[str], None] | None = print) -> FitResult:
    """Train ``trainer`` on ``batches`` until ``epochs`` epochs are done in total.

    trainer:     a :mod:`tinygan.train` trainer (``step``, ``sample``, ``sample_noise``,
                 ``state_dict``/``meta``/``load_state_dict``, ``g_steps``).
    batches:     a :class:`tinygan.data.Minibatches`; labels are passed to
                 ``trainer.step`` when the trainer is conditional.
    epochs:      total epochs (a resumed run continues from the checkpoint's epoch).
    out_dir:     folder for ``checkpoint.npz`` (or give ``checkpoint_path``).
    log_every:   iterations between logged statistics (host syncs, NaN checks,
                 progress-bar updates); each logged value is the mean over the
                 iterations since the previous log; every epoch's last batch is logged.
    resume:      continue from the checkpoint (FileNotFoundError when there is none).
    on_epoch_end: ``callback(epoch, trainer, history)`` after each epoch's checkpoint
                 is written (``epoch`` 1-based), e.g. :class:`tinygan.plot.EpochPictures`.
    on_resume:   ``callback(trainer, epoch)`` after the checkpoint is restored, before
                 training continues (e.g. to set a new learning rate).
    run_meta:    JSON-able dict stored in every checkpoint's meta as ``meta["run"]`` (the
                 run's configuration, :mod:`tinygan.runs`).
    log:         where the one-line epoch summaries go (None: silent).

    Returns a :class:`FitResult`. Raises :class:`TrainingDiverged` on NaN/inf.
    """
    epochs = checks.integer(epochs, "epochs", "fit", low=0)
    log_every = checks.integer(log_every, "log_every", "fit", low=1)
    os.makedirs(out_dir, exist_ok=True)
    ckpt = os.fspath(checkpoint_path) if checkpoint_path else os.path.join(out_dir, CHECKPOINT_NAME)
    conditional = bool(getattr(trainer, "conditional", False))
    if conditional and batches.y is None:
        raise ValueError("the trainer is conditional but the minibatches carry no labels (y=None)")
    say = log or (lambda _msg: None)

    if resume:
        history, epoch, iteration = _load_checkpoint(ckpt, trainer, batches)
        say(f"resumed from {ckpt} after epoch {epoch} (iteration {iteration})")
        if on_resume is not None:
            on_resume(trainer, epoch)
    else:
        history, epoch, iteration = {}, 0, 0
    if batches.epochs_done != epoch:
        raise ValueError(
            f"the minibatches have served {batches.epochs_done} epochs but training is at epoch "
            f"{epoch}; pass a fresh Minibatches (or resume=True with its checkpoint)")

    n_batches, epoch_times = len(batches), []
    while epoch < epochs:
        t0 = time.perf_counter()
        sums, count = {}, 0  # device running sums of each statistic since the last log
        with tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                  file=sys.stderr, leave=True, dynamic_ncols=True, mininterval=0.5) as bar:
            for b, (xb, yb) in enumerate(batches.epoch()):
                stats = trainer.step(xb, yb if conditional else None)
                for k, v in stats.items():  # 0-d device adds: no sync
                    sums[k] = v + sums[k] if k in sums else v
                count += 1
                iteration += 1
                bar.update(1)
                if iteration % log_every == 0 or b + 1 == n_batches:
                    row = {"iteration": float(iteration),
                           "g_step": float(getattr(trainer, "g_steps", math.nan))}
                    # float(): the loop's only host syncs, one per statistic
                    row.update({k: float(v) / count for k, v in sums.items()})
                    sums, count = {}, 0
                    _check_finite(row, iteration, epoch + 1, ckpt, log_every)
                    _append(history, row)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()
                                     if k not in _X_COLUMNS}, refresh=False)
        seconds = time.perf_counter() - t0
        epoch += 1

        bad = _nonfinite_parameter(trainer.state_dict())
        if bad is not None:
            raise TrainingDiverged(iteration, bad, math.nan, epoch, ckpt,
                                   kind="parameter (holds NaN/inf; the statistics looked finite)")
        _save_checkpoint(ckpt, trainer, batches, history, epoch, iteration, run_meta)
        epoch_times.append(seconds)
        last = {k: v[-1] for k, v in history.items() if k not in _X_COLUMNS}
        say(f"epoch {epoch}/{epochs}: {seconds:.1f} s, "
            + ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
        if on_epoch_end is not None:
            on_epoch_end(epoch, trainer, history)
    return FitResult(history, epoch, epoch_times, ckpt)


# -- samples for evaluation ---------------------------------------------------------
def save_samples(trainer, n: int, path, batch_size: int = 1000, labels=None) -> str:
    """Generate ``n`` samples and write them as a float32 (n, 784) ``.npy`` in [-1, 1].

    Generation runs in batches of ``batch_size`` (bounded memory, one host copy per
    batch). Conditional trainers get ``labels`` (default: balanced, ``i mod n_classes``).
    The file is written atomically (temporary file, then ``os.replace``). Returns ``path``.
    """
    n = checks.integer(n, "n", "save_samples", low=1)
    batch_size = checks.integer(batch_size, "batch_size", "save_samples", low=1)
    if labels is None and getattr(trainer, "conditional", False):
        labels = np.arange(n, dtype=np.int64) % trainer.n_classes
    if labels is not None:
        labels = to_numpy(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    parts = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        y = None if labels is None else backend.asarray(labels[start:start + m])
        parts.append(to_numpy(trainer.sample(n=m, y=y)).reshape(m, -1))
    out = np.concatenate(parts, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError("the generator produced NaN or infinite samples; not writing them")
    with atomic_open(path, "wb") as f:
        np.save(f, out, allow_pickle=False)
    return os.fspath(path)
