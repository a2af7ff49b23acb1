"""Parzen-window log-likelihood, the protocol of Goodfellow et al. 2014 (Table 1) and
their code (``parzen_ll.py`` in the authors' ``adversarial`` repository).

A Gaussian kernel density with bandwidth sigma is fitted on the generator's samples
mu_1..mu_n (n = 10,000, pixels in [0, 1], d = 784); the score is the mean log-density of
the test digits x:

    log p(x) = log (1/n) sum_j exp(-|x - mu_j|^2 / (2 sigma^2)) - d log(sigma sqrt(2 pi))

with the log-mean-exp taken stably (max subtracted). sigma is the value in
logspace(-1, 0, 10) that maximises the mean log-likelihood of 1,000 validation digits.
The standard error is std(log p(x)) / sqrt(N_test).

Memory stays bounded: test points are handled ``block`` rows at a time, so only a
(block, n) matrix of squared distances exists at once. Derivation of the stable form:
docs/derivations.md, "Evaluation metrics".
"""
from __future__ import annotations

import math
from typing import NamedTuple

from .. import checks
from ..backend import get_array_module
from .distances import pairwise_sq_distances

#: the authors' cross-validation grid: numpy.logspace(-1, 0, 10)
PARZEN_SIGMAS = tuple(10.0 ** (-1 + i / 9) for i in range(10))

BLOCK = 256


def _log_mean_exp(a, axis=1):
    """log mean exp(a) along ``axis``, stable: m + log mean exp(a - m), m = max a."""
    xp = get_array_module(a)
    m = a.max(axis=axis, keepdims=True)
    return (m + xp.log(xp.exp(a - m).mean(axis=axis, keepdims=True))).squeeze(axis)


def _log_densities(d2_block, sigma, d):
    """log p(x) for a block of squared distances (b, n) at bandwidth sigma."""
    return _log_mean_exp(d2_block * (-0.5 / sigma ** 2)) - d * math.log(sigma * math.sqrt(2 * math.pi))


def parzen_log_densities(samples, points, sigma: float, block: int = BLOCK):
    """log p(x) (N,) of each row of ``points`` (N, d) under the Gaussian Parzen window of
    bandwidth ``sigma`` on ``samples`` (n, d); an array of the inputs' module and dtype."""
    checks.point_sets("parzen_log_densities", samples=samples, points=points)
    sigma = checks.positive(sigma, "sigma", "parzen")
    out = get_array_module(samples, points).empty(points.shape[0], dtype=points.dtype)
    for start in range(0, points.shape[0], block):
        d2 = pairwise_sq_distances(points[start:start + block], samples)
        out[start:start + block] = _log_densities(d2, sigma, samples.shape[1])
    return out


class ParzenResult(NamedTuple):
    mean: float       # mean log-likelihood (nats) of the test points
    std_error: float  # std(log p(x)) / sqrt(N)
    sigma: float


def parzen_log_likelihood(samples, test, sigma: float, block: int = BLOCK) -> ParzenResult:
    """Mean log-likelihood of ``test`` (N, d) under the Parzen window on ``samples`` with
    bandwidth ``sigma``, and its standard error, as Python floats."""
    ll = parzen_log_densities(samples, test, sigma, block)
    return ParzenResult(float(ll.mean()), float(ll.std()) / math.sqrt(ll.shape[0]), float(sigma))


def parzen_select_sigma(samples, valid, sigmas=PARZEN_SIGMAS, block: int = BLOCK):
    """The sigma in ``sigmas`` maximising the mean log-likelihood of ``valid`` (N_v, d).

    Returns (best sigma, list of mean log-likelihoods per sigma). The distances do not
    depend on sigma, so each distance block is computed once and reused for every sigma.
    """
    checks.point_sets("parzen_select_sigma", samples=samples, points=valid)
    sigmas = [float(s) for s in sigmas]
    if not sigmas or min(sigmas) <= 0:
        raise ValueError(f"parzen_select_sigma: need positive sigmas, got {sigmas}")
    totals = get_array_module(samples, valid).zeros(len(sigmas), dtype=valid.dtype)
    for start in range(0, valid.shape[0], block):
        d2 = pairwise_sq_distances(valid[start:start + block], samples)
        for i, sigma in enumerate(sigmas):
            totals[i] += _log_densities(d2, sigma, samples.shape[1]).sum()
    means = [float(t) / valid.shape[0] for t in totals]
    best = max(range(len(sigmas)), key=lambda i: means[i])
    return sigmas[best], means
