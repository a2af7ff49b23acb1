"""A training run's folder: which files make a run, its configuration, its models.

A run folder holds ``checkpoint.npz`` (written by :func:`tinygan.loop.fit`),
``config.json``, ``losses.png``, the grids ``samples_epoch_NNN.png`` and, at the end,
``samples.npy``. Three rules keep a run from being lost:

* :func:`run_files` says whether a folder already holds a run, so that a new run is
  refused there unless the user asks to replace it (:func:`clear_run`).
* The configuration lives in the checkpoint itself (``meta["run"]``, passed to ``fit`` as
  ``run_meta``); ``config.json`` is its readable copy, written after each checkpoint and
  rewritten from the checkpoint whenever the two could differ (:func:`sync_config`). So
  what a resume continues is decided by the one file that holds the weights.
* A resumed run may change only the options that do not change what the checkpoint
  means (:data:`CHANGEABLE`: learning rate, epochs, logging, samples, threads, backend);
  :func:`resume_changes` refuses the others and records each change with the epoch it
  takes effect.

The run configuration is a JSON dict with the keys of :data:`FIXED` and
:data:`CHANGEABLE` plus ``"format"`` and ``"changes"`` (a list of
``{"epoch": e, "changed": {option: [old, new]}}``, e the first epoch trained with the
new values).
"""
from __future__ import annotations

import contextlib
import glob
import json
import os

from .atomic import atomic_open

__all__ = ["ARCHS", "CHECKPOINT_NAME", "CONFIG_NAME", "SAMPLES_NAME", "RUN_FORMAT", "FIXED",
           "CHANGEABLE", "run_files", "clear_run", "read_config", "write_config",
           "checkpoint_run", "sync_config", "resume_changes", "build_generator", "build_models",
           "ResumeRefused"]

CHECKPOINT_NAME = "checkpoint.npz"
CONFIG_NAME = "config.json"
SAMPLES_NAME = "samples.npy"
RUN_FORMAT = "tinygan.run/1"
#: The model pairs of ``build_models``.
ARCHS = ("mlp", "dcgan", "goodfellow", "infogan")
#: What the checkpoint's weights mean: a resume must give the same values.
FIXED = ("loss", "arch", "spectral_norm", "recipe", "conditional", "noise_dim", "n_classes",
         "batch_size", "seed", "limit", "n_critic", "ema", "clip")
#: What a resume may change; each change is recorded with the epoch it takes effect.
CHANGEABLE = ("lr", "epochs", "log_every", "n_samples", "threads", "backend")
# Files (and patterns) that make a folder a run folder; sample/ is what examples/sample.py
# draws from the run's generator, so it goes with the run.
_RUN_PATTERNS = (CHECKPOINT_NAME, CONFIG_NAME, SAMPLES_NAME, "losses.png",
                 "samples_epoch_[0-9][0-9][0-9]*.png", "infogan_c[0-9]*.png",
                 "code_accuracy.json", "parzen.jsonl", "sample/grid.png", "sample/samples.npy",
                 "sample/interpolation.png")


class ResumeRefused(ValueError):
    """A resume asked to change an option that the checkpoint's weights depend on."""


def run_files(folder) -> list[str]:
    """Names of the run files in ``folder``, relative to it (sorted; empty when there is
    no run)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    found = set()
    for pattern in _RUN_PATTERNS:
        found.update(os.path.relpath(p, folder) for p in glob.glob(os.path.join(
            glob.escape(folder), pattern)))
    return sorted(found)


def clear_run(folder) -> list[str]:
    """Delete the run files of ``folder`` (nothing else in it, and sample/ only when they
    leave it empty); returns their names. The checkpoint goes first, so an interruption
    never leaves a resumable checkpoint beside the config of another run."""
    names = run_files(folder)
    names.sort(key=lambda n: n != CHECKPOINT_NAME)
    for name in names:
        os.remove(os.path.join(os.fspath(folder), name))
    with contextlib.suppress(OSError):      # not there, or holds the user's own files
        os.rmdir(os.path.join(os.fspath(folder), "sample"))
    return names


def read_config(folder) -> dict | None:
    """``folder/config.json`` as a dict, or None when there is none."""
    path = os.path.join(os.fspath(folder), CONFIG_NAME)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err


def write_config(folder, config: dict) -> str:
    """Write ``config`` to ``folder/config.json`` atomically (old or whole new file)."""
    path = os.path.join(os.fspath(folder), CONFIG_NAME)
    with atomic_open(path, "w", durable=True, encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def checkpoint_run(meta: dict, folder=None) -> dict | None:
    """The run configuration a checkpoint was written with: ``meta["run"]``, or for a
    checkpoint without one (written before runs kept it there) ``folder/config.json``."""
    run = meta.get("run")
    if run is None and folder is not None:
        run = read_config(folder)
    return run


def sync_config(folder, run: dict | None) -> bool:
    """Make ``config.json`` equal to the checkpoint's run configuration ``run``; True
    when it had to be rewritten (an interruption between the two writes)."""
    if run is None or read_config(folder) == run:
        return False
    write_config(folder, run)
    return True


def resume_changes(saved: dict, given: dict, epoch: int) -> dict:
    """The configuration of a run resumed after ``epoch`` epochs.

    ``saved``: the checkpoint's run configuration; ``given``: the options of this call,
    None for those not given (they keep their saved values). A FIXED option that differs
    raises :class:`ResumeRefused` naming each difference; CHANGEABLE ones that differ are
    applied and appended to ``changes`` as ``{"epoch": epoch + 1, "changed": {option:
    [old, new]}}``. Returns the new configuration (``saved`` is not modified).
    """
    differ = {k: (saved.get(k), given[k]) for k in FIXED
              if given.get(k) is not None and saved.get(k) != given[k]}
    if differ:
        pairs = ", ".join(f"{k}: {old!r} in the run, {new!r} given" for k, (old, new) in differ.items())
        raise ResumeRefused(f"options differ from the run's ({pairs}); only "
                            f"{', '.join(CHANGEABLE)} may change on --resume")
    run = dict(saved)
    run["changes"] = [dict(c) for c in saved.get("changes", [])]
    changed = {k: [saved.get(k), given[k]] for k in CHANGEABLE
               if given.get(k) is not None and saved.get(k) != given[k]}
    if changed:
        run.update({k: new for k, (_, new) in changed.items()})
        run["changes"].append({"epoch": epoch + 1, "changed": changed})
    return run


def build_generator(run: dict, rng=None, marginals_of=None):
    """G for a run configuration (``arch``, ``conditional``, ``noise_dim``, ``n_classes``;
    28x28 MNIST-sized images), on the current backend.

    mlp: G 100-256-512-1024-784 (tanh out); dcgan: Radford et al.'s projection and two
    strided transposed convolutions with BatchNorm; goodfellow: Goodfellow et al. 2014's
    ReLU/sigmoid MLP (output in (0, 1); ``marginals_of``: training images whose mean
    pixels set its output bias); infogan: Chen et al. 2016's MNIST generator
    (tinygan.models).
    """
    from . import models

    arch = _arch(run)
    k = run.get("n_classes", 10) if run.get("conditional") else 0
    noise_dim = run.get("noise_dim", 100) + _code_dim(run)   # InfoGAN: [z, c_cat, c_cont]
    if arch == "mlp":
        return models.mlp_generator(noise_dim, n_classes=k, rng=rng)
    if arch == "goodfellow":
        return models.goodfellow_generator(noise_dim, marginals_of=marginals_of, rng=rng)
    if arch == "infogan":
        return models.infogan_generator(noise_dim, rng=rng)
    return models.dcgan_generator(noise_dim, n_classes=k, rng=rng)


def build_models(run: dict, rng=None, x=None):
    """(G, D) for a run configuration: G from :func:`build_generator`; D the MLP
    784-1024-512-256-1 (mlp) or Radford et al.'s convolutional discriminator with
    BatchNorm (dcgan), except with ``spectral_norm``: SN-GAN's (every layer spectrally
    normalised, no BatchNorm), with loss ``"infogan"`` D's last layer also gives Q's
    n_cat + n_cont outputs, and with loss ``"wgan-gp"``: Gulrajani et al.'s critic
    without BatchNorm, since the penalty needs per-sample gradients; goodfellow: Goodfellow
    et al.'s maxout D with dropout (seeded by the run's seed; ``x``: the training images,
    for G's output bias); infogan (loss ``"infogan"`` only): Chen et al. 2016's MNIST D
    with Qn's own layers on its body."""
    from . import models

    G = build_generator(run, rng, marginals_of=x)
    if _arch(run) == "goodfellow":
        return G, models.goodfellow_discriminator(seed=run.get("seed", 0), rng=rng)
    if _arch(run) == "infogan":
        if run.get("loss") != "infogan" or run.get("conditional"):
            raise ValueError("the infogan architecture is InfoGAN's pair (D with a Q head): "
                             "use it with loss 'infogan', unconditional")
        return G, models.infogan_discriminator(run.get("n_cat", 10), run.get("n_cont", 2),
                                               rng=rng)
    k = run.get("n_classes", 10) if run.get("conditional") else 0
    out = 1 + _code_dim(run)        # InfoGAN: D's logit and Q's outputs from one body
    if _arch(run) == "mlp":
        return G, models.mlp_discriminator(784, n_classes=k, rng=rng, out_dim=out)
    if run.get("spectral_norm"):
        return G, models.dcgan_discriminator(spectral_norm=True, n_classes=k, rng=rng,
                                             out_dim=out)
    if run.get("loss") == "infogan":
        return G, models.dcgan_discriminator(n_classes=k, rng=rng, out_dim=out)
    if run.get("loss") == "wgan-gp":
        return G, models.wgangp_conv_critic(n_classes=k, rng=rng)
    return G, models.dcgan_discriminator(batchnorm=True, n_classes=k, rng=rng)


def _code_dim(run: dict) -> int:
    """InfoGAN's code inputs n_cat + n_cont (0 for every other loss)."""
    return run.get("n_cat", 0) + run.get("n_cont", 0) if run.get("loss") == "infogan" else 0


def _arch(run: dict) -> str:
    arch = run.get("arch", "mlp")
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r} in the run configuration; "
                         f"expected one of {', '.join(map(repr, ARCHS))}")
    return arch
