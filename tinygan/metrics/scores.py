"""Scores computed from a classifier's outputs or from known mixture modes.

* ``inception_score_from_probs``: the Inception Score of Salimans et al. 2016 on given
  class probabilities p(y|x) (the MNIST score uses tinygan's own classifier).
* ``mode_coverage``: modes captured and high-quality share on 2-D Gaussian mixtures, the
  protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

Definitions: docs/derivations.md, "Evaluation metrics".
"""
from __future__ import annotations

from typing import NamedTuple

import numpy

from .. import checks
from ..backend import get_array_module, to_numpy


class InceptionScore(NamedTuple):
    mean: float
    std: float


def inception_score_from_probs(probs, splits: int = 10) -> InceptionScore:
    """IS = exp(E_x KL(p(y|x) || p(y))) on each of ``splits`` equal chunks of ``probs``
    (N, K) (rows sum to 1), with p(y) the chunk's mean prediction; returns the mean and
    standard deviation over the chunks as Python floats.

        KL(p(y|x) || p(y)) = sum_y p(y|x) (log p(y|x) - log p(y)),   0 log 0 = 0

    Bounds: 1 (every x gets the same prediction) <= IS <= K (confident and balanced).
    """
    if probs.ndim != 2:
        raise ValueError(f"inception_score: expected probabilities of shape (N, K), got {tuple(probs.shape)}")
    n = probs.shape[0]
    splits = checks.integer(splits, "splits", f"inception_score (N = {n})", low=1, high=n)
    xp = get_array_module(probs)
    tiny = xp.finfo(xp.float64).tiny  # log of 0 -> finite, multiplied by 0 -> 0
    scores = []
    for chunk in xp.array_split(probs.astype(xp.float64), splits):
        p_y = chunk.mean(axis=0, keepdims=True)
        kl = (chunk * (xp.log(xp.maximum(chunk, tiny)) - xp.log(xp.maximum(p_y, tiny)))).sum(axis=1)
        scores.append(xp.exp(kl.mean()))
    scores = to_numpy(xp.stack(scores))
    return InceptionScore(float(scores.mean()), float(scores.std()))


class ModeCoverage(NamedTuple):
    modes_captured: int          # modes with >= 1 high-quality sample
    high_quality_share: float    # share of samples within 3 std of their nearest mode
    counts: numpy.ndarray        # (K,) high-quality samples per mode (host int64)


def mode_coverage(samples, centres, std: float, n_std: float = 3.0) -> ModeCoverage:
    """Modes captured and high-quality share of 2-D ``samples`` (n, 2) for a mixture with
    ``centres`` (K, 2) and per-mode standard deviation ``std`` (PacGAN/VEEGAN protocol,
    2,500 samples there):

        c(x)        = argmin_k |x - mu_k|                 (nearest mode)
        high quality  |x - mu_c(x)| <= n_std * std        (n_std = 3)
        captured    mode k with >= 1 high-quality sample assigned to it
    """
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"mode_coverage: expected samples of shape (n, 2), got {tuple(samples.shape)}")
    std = checks.positive(std, "std", "mode_coverage")
    xp = get_array_module(samples)
    centres = xp.asarray(centres, dtype=samples.dtype)
    if centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f"mode_coverage: expected centres of shape (K, 2), got {tuple(centres.shape)}")
    d2 = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)  # (n, K)
    nearest = d2.argmin(axis=1)
    high = d2.min(axis=1) <= (n_std * std) ** 2
    counts = to_numpy(xp.bincount(nearest[high], minlength=centres.shape[0])).astype(numpy.int64)
    return ModeCoverage(
        modes_captured=int((counts > 0).sum()),
        high_quality_share=float(to_numpy(high).mean()) if samples.shape[0] else 0.0,
        counts=counts,
    )
