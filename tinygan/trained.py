"""A trained generator, one call away: :func:`load_generator` reads a run folder (or its
``checkpoint.npz``) and returns the generator, ready to sample.

    from tinygan.trained import load_generator
    gen = load_generator("runs/nsgan-mlp")
    x = gen.sample(64, seed=0)                    # (64, 784) host NumPy, in gen.value_range
    x = gen(z, labels)                            # your own z (n, noise_dim) [and labels]

The checkpoint holds the weights (``trainer.G.*``, and ``trainer.ema_G.average.*`` when
the run kept an average of them: the generator then samples with the average, as the
run's own grids did), the trainer's configuration (noise dimension, prior, conditioning)
and the run's (the architecture; a checkpoint written before runs kept it is read with
the ``config.json`` beside it). Nothing is unpickled.
"""
from __future__ import annotations

import os

import numpy as np

from . import backend, checkpoint, nn, runs
from .backend import asarray, get_array_module, to_numpy
from .models import join_label
from .train.base import draw_noise

__all__ = ["load_generator", "TrainedGenerator", "checkpoint_file", "load_generator_weights"]

AVERAGE_PREFIX = "trainer.ema_G.average."   # Trainer.state_dict's, in a checkpoint
STATISTICS_PREFIX = "trainer.ema_G_batchnorm."   # the average's BatchNorm statistics


def checkpoint_file(path) -> str:
    """``path`` itself when it is a file, else ``path/checkpoint.npz``; FileNotFoundError
    naming what was expected when neither exists."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, runs.CHECKPOINT_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path} (expected a run folder holding "
                                f"{runs.CHECKPOINT_NAME}, or the checkpoint file itself)")
    return path


def load_generator_weights(G, arrays, averaged: bool = True) -> bool:
    """G's weights from a training checkpoint's ``arrays``: ``trainer.G.*``, then, when
    ``averaged`` and the run kept one (``--ema``), the average of its parameters
    (``trainer.ema_G.average.<i>``, in ``G.parameters()``' order) and, for a BatchNorm
    generator, the average's own statistics (``trainer.ema_G_batchnorm.<buffer name>``).
    Every stored array of the average is checked before any of them is copied. Returns
    True when the average was loaded."""
    G.load_state_dict(arrays, prefix="trainer.G.")
    params = [p for p, _ in G.parameters()]
    keys = [f"{AVERAGE_PREFIX}{i}" for i in range(len(params))]
    if not averaged or keys[0] not in arrays:
        return False
    stored = sum(k.startswith(AVERAGE_PREFIX) for k in arrays)
    if stored != len(params):
        raise checkpoint.CheckpointError(f"the average of G's weights does not match G: "
                                         f"{stored} arrays for {len(params)} parameters")
    statistics = {STATISTICS_PREFIX + name: live
                  for name, live in nn.batchnorm.running_statistics(G).items()}
    stored = {k for k in arrays if k.startswith(STATISTICS_PREFIX)}
    if stored != set(statistics):
        raise checkpoint.CheckpointError(
            f"the average's BatchNorm statistics do not match G: expected "
            f"{sorted(statistics) or 'none'}, the checkpoint has {sorted(stored) or 'none'}")
    targets = list(zip(params, keys)) + [(dst, key) for key, dst in statistics.items()]
    for dst, key in targets:
        if key not in arrays or tuple(arrays[key].shape) != tuple(dst.shape):
            raise checkpoint.CheckpointError(f"{key}: the average of G's weights does not "
                                             f"match G (expected shape {tuple(dst.shape)})")
    for dst, key in targets:
        dst[...] = asarray(arrays[key], dtype=dst.dtype)
    return True


class TrainedGenerator:
    """G of a finished (or interrupted) run, in eval mode (BatchNorm uses its running
    statistics).

    Attributes: ``net`` (the ``nn.Sequential``), ``noise_dim`` (k), ``n_classes`` (K;
    0 for an unconditional run), ``noise`` (``"normal"``: z ~ N(0, I); ``"uniform"``:
    U(-1, 1)^k; ``"uniform_sqrt3"``: U(-sqrt 3, sqrt 3)^k), ``value_range`` (of the
    samples: (-1, 1), or (0, 1) for Goodfellow et al.'s sigmoid generator), ``codes``
    (InfoGAN's (n_cat, n_cont), else (0, 0)), ``input_dim``
    (what ``__call__`` takes: noise_dim, plus n_cat + n_cont for InfoGAN, whose latent
    vector is [z, onehot(c_cat), c_cont]), ``run`` (the run configuration), ``epoch``
    (epochs trained), ``averaged`` (True: the weights are the run's average of G's).
    """

    def __init__(self, net, noise_dim: int, n_classes: int, noise: str, run: dict, epoch: int,
                 codes=(0, 0), averaged: bool = False):
        self.net = net.eval()
        self.noise_dim, self.n_classes, self.noise = noise_dim, n_classes, noise
        self.codes = tuple(codes)
        self.input_dim = noise_dim + sum(self.codes)
        self.run, self.epoch, self.averaged = run, epoch, averaged
        self.value_range = (0, 1) if run.get("arch") == "goodfellow" else (-1, 1)

    def sample_noise(self, n: int, seed: int = 0):
        """The latent input (n, input_dim) with its own seeded generator: z from the run's
        prior; for InfoGAN followed by onehot(c_cat), c_cat uniform on the n_cat
        categories, and c_cont ~ U(-1, 1)^n_cont, as in training."""
        rng = backend.make_rng(seed)
        dtype = self.net.parameters()[0][0].dtype
        z = draw_noise(rng, self.noise, (n, self.noise_dim), dtype)
        n_cat, n_cont = self.codes
        if not n_cat:
            return z
        xp = get_array_module(z)
        c_cat = rng.integers(0, n_cat, size=n)
        onehot = (c_cat[:, None] == xp.arange(n_cat)[None, :]).astype(dtype)
        c_cont = 2 * rng.random((n, n_cont), dtype=dtype) - 1
        return xp.concatenate([z, onehot, c_cont], axis=1)

    def __call__(self, z, labels=None) -> np.ndarray:
        """G(z) (or G([z, onehot(labels)])): host float32 (n, 784) in ``value_range``.
        ``labels``: int digits (n,) for a conditional generator (default: 0, 1, ..., K-1,
        0, 1, ...); must be None for an unconditional one."""
        z = asarray(z)
        if z.ndim != 2 or z.shape[1] != self.input_dim:
            raise ValueError(f"expected z of shape (n, {self.input_dim}), got {tuple(z.shape)}")
        n = z.shape[0]
        xp = get_array_module(z)
        if self.n_classes:
            y = xp.arange(n) % self.n_classes if labels is None else asarray(labels)
            if y.shape != (n,) or y.dtype.kind not in "iu" or int(y.min()) < 0 \
                    or int(y.max()) >= self.n_classes:
                raise ValueError(f"labels must be {n} ints in 0..{self.n_classes - 1}")
            onehot = (y[:, None] == xp.arange(self.n_classes)[None, :]).astype(z.dtype)
            z = join_label(z, onehot)
        elif labels is not None:
            raise ValueError("labels given, but this generator is not conditional")
        return to_numpy(self.net.forward(z)).reshape(n, -1)

    def sample(self, n: int, labels=None, seed: int = 0) -> np.ndarray:
        """n samples (host float32 (n, 784) in ``value_range``) from noise seeded by ``seed``."""
        return self(self.sample_noise(n, seed), labels)


def load_generator(path, averaged: bool = True) -> TrainedGenerator:
    """The generator of the run in folder ``path`` (or of the checkpoint file ``path``),
    on the current backend: with the average of its weights when the run kept one and
    ``averaged`` (the default; False gives the trained weights). Raises
    FileNotFoundError when there is no checkpoint and
    :class:`tinygan.checkpoint.CheckpointError` when it is not a training checkpoint."""
    ckpt = checkpoint_file(path)
    arrays, meta = checkpoint.load(ckpt)
    if "trainer" not in meta or not any(k.startswith("trainer.G.") for k in arrays):
        raise checkpoint.CheckpointError(f"{ckpt}: not a training checkpoint (no generator "
                                         "weights trainer.G.*)")
    config = meta["trainer"]["config"]
    run = dict(runs.checkpoint_run(meta, os.path.dirname(ckpt)) or {})
    run.update(noise_dim=config["noise_dim"], conditional=config["conditional"],
               n_classes=config["n_classes"], loss=meta["trainer"].get("loss", run.get("loss")))
    codes = (config.get("n_cat", 0), config.get("n_cont", 0)) if run["loss"] == "infogan" \
        else (0, 0)
    run.update(n_cat=codes[0], n_cont=codes[1])
    if "arch" not in run:  # no configuration at all: a convolution means DCGAN
        run["arch"] = "dcgan" if any(a.ndim == 4 for k, a in arrays.items()
                                     if k.startswith("trainer.G.")) else "mlp"
    G = runs.build_generator(run)
    used_average = load_generator_weights(G, arrays, averaged)
    k = config["n_classes"] if config["conditional"] else 0
    return TrainedGenerator(G, config["noise_dim"], k, config.get("noise", "normal"), run,
                            int(meta.get("epoch", 0)), codes, used_average)
