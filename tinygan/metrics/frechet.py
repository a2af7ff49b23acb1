"""Frechet distance between Gaussians fitted to features (the "FID" of Heusel et al. 2017).

Derivation and the stability argument: docs/derivations.md, "Evaluation metrics".

For features of two sample sets summarised by means mu_1, mu_2 (F,) and covariances
S_1, S_2 (F, F), the squared Frechet (2-Wasserstein) distance of N(mu_1, S_1) and
N(mu_2, S_2) is

    d^2 = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})

Computed without complex numbers: S^{1/2} of a covariance comes from its symmetric
eigendecomposition (eigh) with round-off eigenvalues (negative or below eigh's error
bound) set to 0, and the trace of the
outer root is the nuclear norm of C = S_2^{1/2} S_1^{1/2}, because
S_1^{1/2} S_2 S_1^{1/2} = C^T C has eigenvalues sigma_i(C)^2. Taking singular values of C
directly (instead of eigenvalues of C^T C, then roots) keeps the error of a rank-deficient
covariance at round-off instead of its square root.

All arithmetic here is float64 on purpose (metrics live outside training steps; a float32
covariance of 10,000 samples loses too many digits for d^2 ~ 1).
"""
from __future__ import annotations

from ..backend import get_array_module


def feature_stats(features):
    """Mean (F,) and unbiased covariance (F, F) of ``features`` (N, F), both float64.

        mu = (1/N) sum_i f_i,     S = 1/(N - 1) sum_i (f_i - mu)(f_i - mu)^T
    """
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(
            f"feature_stats: expected features of shape (N, F) with N >= 2, got {tuple(features.shape)}"
        )
    f = features.astype(get_array_module(features).float64)  # explicit: see the module docstring
    mu = f.mean(axis=0)
    centred = f - mu
    sigma = centred.T @ centred / (f.shape[0] - 1)
    return mu, sigma


def sqrtm_psd(S):
    """Symmetric square root of a symmetric positive semi-definite matrix S (F, F).

        S = V diag(l) V^T  (eigh),    S^{1/2} = V diag(sqrt(l+)) V^T

    l+ sets to 0 every eigenvalue below eigh's own error bound, tol = F eps max|l| (the
    rank tolerance of numpy.linalg.matrix_rank): round-off turns the zero eigenvalues of
    a singular covariance into +-eps max|l|, and sqrt would blow those up to
    sqrt(eps max|l|) ~ 1e-8 sqrt(max|l|). The result is real and symmetric.
    """
    xp = get_array_module(S)
    S = (S + S.T) / 2  # exact symmetry for eigh
    l, V = xp.linalg.eigh(S)
    tol = S.shape[0] * xp.finfo(S.dtype).eps * xp.abs(l).max()
    l = xp.where(l > tol, l, 0)
    return (V * xp.sqrt(l)) @ V.T


def _check_gaussian(mu, S, name):
    if mu.ndim != 1 or S.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"frechet_distance: expected {name} mean of shape (F,) and covariance (F, F), "
            f"got {tuple(mu.shape)} and {tuple(S.shape)}"
        )


def frechet_distance(mu1, S1, mu2, S2) -> float:
    """Squared Frechet distance d^2 of N(mu1, S1) and N(mu2, S2), a Python float.

        d^2 = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 ||S2^{1/2} S1^{1/2}||_*

    (||.||_* the nuclear norm, = tr (S1^{1/2} S2 S1^{1/2})^{1/2}). Clamped at 0, which
    d^2 is mathematically, so round-off never reports a negative distance.
    """
    xp = get_array_module(mu1, S1, mu2, S2)
    mu1, S1, mu2, S2 = (xp.asarray(a, dtype=xp.float64) for a in (mu1, S1, mu2, S2))
    _check_gaussian(mu1, S1, "first")
    _check_gaussian(mu2, S2, "second")
    if mu1.shape != mu2.shape:
        raise ValueError(f"frechet_distance: feature sizes differ, {mu1.shape[0]} vs {mu2.shape[0]}")
    C = sqrtm_psd(S2) @ sqrtm_psd(S1)
    tr_covmean = xp.linalg.svd(C, compute_uv=False).sum()
    diff = mu1 - mu2
    d2 = diff @ diff + xp.trace(S1) + xp.trace(S2) - 2 * tr_covmean
    return max(float(d2), 0.0)


def frechet_distance_features(features1, features2) -> float:
    """d^2 between the Gaussians fitted to two feature sets (N1, F) and (N2, F)."""
    return frechet_distance(*feature_stats(features1), *feature_stats(features2))
