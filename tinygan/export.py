"""Weights in PyTorch's layout: a tinygan model's state as a ``torch.nn`` state dict.

:func:`torch_state_dict` maps an ``nn.Sequential`` to plain named NumPy arrays that
``torch.nn.Sequential.load_state_dict`` accepts, for the ``torch.nn.Sequential`` with the
same layers at the same positions (i = the layer's index):

    tinygan                            torch.nn                     state dict entries
    Linear(n_in, n_out)                Linear(n_in, n_out)          i.weight = W^T (n_out, n_in), i.bias
    Conv2d(c_in, c_out, k, s, p)       Conv2d(c_in, c_out, k, s, p) i.weight (c_out, c_in, k, k) as is
    ConvTranspose2d(c_in, c_out, ...)  ConvTranspose2d(same)        i.weight (c_in, c_out, k, k) as is
    BatchNorm(C) on (N, C) / images    BatchNorm1d(C) / BatchNorm2d(C)  i.weight = gamma, i.bias = beta,
                                                                    running_mean, running_var,
                                                                    num_batches_tracked
    ReLU, LeakyReLU(a), Tanh,          ReLU, LeakyReLU(a), Tanh,    (none)
    Sigmoid, Softplus                  Sigmoid, Softplus
    Flatten, Reshape(shape)            Flatten(), Unflatten(1, shape)  (none)

tinygan's Linear computes y = x W + b with W (n_in, n_out), PyTorch's y = x W^T + b with
its weight (n_out, n_in): hence the transpose. Convolutions are cross-correlations in
both, with the same weight layouts. BatchNorm has the same eps (1e-5), momentum (0.1)
and unbiased running variance; ``num_batches_tracked`` (int64, the only non-float32
entry) is 0, since tinygan does not count batches (PyTorch reads it only when its
momentum is None). Every float array is a float32 host copy in C order.

:func:`export_run` does this for a run's G and D (``G.<i>.weight``, ``D.<i>.weight``...),
optionally into an ``.npz`` (``numpy.load(path)`` reads it; no pickle).
"""
from __future__ import annotations

import os

import numpy as np

from . import checkpoint, nn, runs
from .atomic import atomic_open
from .backend import to_numpy

__all__ = ["torch_state_dict", "export_run"]

_NO_PARAMETERS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Flatten,
                  nn.Reshape)


def _host(a) -> np.ndarray:
    return np.ascontiguousarray(to_numpy(a), dtype=np.float32)


def torch_state_dict(net, prefix: str = "") -> dict:
    """``{prefix + "<i>.<name>": array}`` for the torch.nn.Sequential matching ``net``
    layer for layer (table above). Raises ValueError for a layer without a PyTorch
    counterpart in this layout (e.g. spectral normalisation)."""
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"torch_state_dict: expected an nn.Sequential, got {type(net).__name__}")
    state = {}
    for i, layer in enumerate(net.layers):
        key = f"{prefix}{i}."
        p = layer.params
        if type(layer) is nn.Linear:
            state[key + "weight"] = _host(p["W"].T)
        elif type(layer) in (nn.Conv2d, nn.ConvTranspose2d):
            state[key + "weight"] = _host(p["W"])
        elif type(layer) is nn.BatchNorm:
            state[key + "weight"] = _host(p["gamma"])
            state[key + "bias"] = _host(p["beta"])
            state[key + "running_mean"] = _host(layer.running_mean)
            state[key + "running_var"] = _host(layer.running_var)
            state[key + "num_batches_tracked"] = np.array(0, dtype=np.int64)
            continue
        elif isinstance(layer, _NO_PARAMETERS):
            continue
        else:
            raise ValueError(f"torch_state_dict: layer {i} ({layer!r}) has no PyTorch "
                             "counterpart in this export")
        if "b" in p:
            state[key + "bias"] = _host(p["b"])
    return state


def export_run(path, out=None, averaged: bool = True) -> dict:
    """G's and D's weights of the run in folder ``path`` (or of the checkpoint file
    ``path``) in PyTorch's layout: ``{"G.<i>.<name>": ..., "D.<i>.<name>": ...}``; G's
    are the average of its weights when the run kept one and ``averaged`` (the generator
    ``tinygan.trained.load_generator`` gives), else the trained ones.
    With ``out``, also written there as an ``.npz`` (atomically)."""
    from .trained import checkpoint_file, load_generator_weights

    ckpt = checkpoint_file(path)
    arrays, meta = checkpoint.load(ckpt)
    run = dict(runs.checkpoint_run(meta, os.path.dirname(ckpt)) or {})
    config = meta.get("trainer", {}).get("config", {})
    run.update({k: config[k] for k in ("noise_dim", "conditional", "n_classes", "n_cat", "n_cont")
                if k in config})
    run.setdefault("loss", meta.get("trainer", {}).get("loss"))
    if "arch" not in run or "loss" not in run:
        raise checkpoint.CheckpointError(f"{ckpt}: no run configuration (architecture and "
                                         "loss) in it or beside it")
    G, D = runs.build_models(run)
    load_generator_weights(G, arrays, averaged)
    D.load_state_dict(arrays, prefix="trainer.D.")
    state = {**torch_state_dict(G, "G."), **torch_state_dict(D, "D.")}
    if out is not None:
        with atomic_open(os.fspath(out), "wb") as f:
            np.savez(f, **state)
    return state
