"""Distances between sample sets: k-NN precision/recall and exact earth mover's distances.

Definitions: docs/derivations.md, "Evaluation metrics".

* ``precision_recall``: improved precision and recall of Kynkaanniemi et al. 2019. Each
  set spans a manifold, the union of balls around its points whose radius is the
  distance to the point's k-th nearest neighbour in its own set. Precision is the share
  of fake points inside the real manifold, recall the share of real points inside the
  fake manifold.
* ``emd_1d``: the exact 1-D earth mover's (Wasserstein-1) distance of two empirical
  distributions, W1 = integral |F_a(t) - F_b(t)| dt.
* ``emd_discrete``: the same for histograms on unit-spaced bins,
  EMD = sum_i |sum_{j <= i} (P_j - Q_j)|.

Pairwise distances are computed in row blocks so memory stays at (block, N) floats.
"""
from __future__ import annotations

from typing import NamedTuple

from .. import checks
from ..backend import get_array_module

#: rows of the (rows, N) distance block held in memory at once
BLOCK = 1024


def pairwise_sq_distances(a, b):
    """Squared Euclidean distances (n_a, n_b) of rows of a (n_a, F) and b (n_b, F).

        |a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 a_i . b_j     (one matrix product)

    Clipped at 0: the expansion can round a zero distance to a tiny negative.
    """
    d2 = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :]
    d2 -= 2 * (a @ b.T)
    return get_array_module(a, b).maximum(d2, 0, out=d2)


def knn_radii_sq(features, k: int = 3, block: int = BLOCK):
    """Squared distance of each row of ``features`` (N, F) to its k-th nearest neighbour
    in the same set, the point itself excluded (it is the 0-th neighbour)."""
    xp = get_array_module(features)
    n = features.shape[0]
    k = checks.integer(k, "k", f"knn_radii_sq (N = {n})", low=1, high=n - 1)
    radii = xp.empty(n, dtype=features.dtype)
    for start in range(0, n, block):
        d2 = pairwise_sq_distances(features[start:start + block], features)
        radii[start:start + block] = xp.partition(d2, k, axis=1)[:, k]
    return radii


def _share_inside(points, centres, radii_sq, block: int = BLOCK):
    """Fraction of ``points`` within radius of at least one of ``centres`` (a float)."""
    inside = 0
    for start in range(0, points.shape[0], block):
        d2 = pairwise_sq_distances(points[start:start + block], centres)
        inside += int((d2 <= radii_sq[None, :]).any(axis=1).sum())
    return inside / points.shape[0]


class PrecisionRecall(NamedTuple):
    precision: float
    recall: float


def precision_recall(real_features, fake_features, k: int = 3, block: int = BLOCK):
    """Improved precision and recall (Kynkaanniemi et al. 2019), k-NN manifolds.

    With NN_k(phi, Phi) the distance of phi to its k-th nearest neighbour in Phi,

        f(phi, Phi) = 1 if |phi - phi'| <= NN_k(phi', Phi) for some phi' in Phi, else 0
        precision   = mean_{phi_g in fake} f(phi_g, real)
        recall      = mean_{phi_r in real} f(phi_r, fake)

    real_features (N_r, F), fake_features (N_g, F), same dtype. Returns Python floats.
    """
    checks.point_sets("precision_recall", real_features=real_features,
                      fake_features=fake_features)
    real_r2 = knn_radii_sq(real_features, k, block)
    fake_r2 = knn_radii_sq(fake_features, k, block)
    return PrecisionRecall(
        precision=_share_inside(fake_features, real_features, real_r2, block),
        recall=_share_inside(real_features, fake_features, fake_r2, block),
    )


def emd_1d(a, b) -> float:
    """Exact earth mover's distance W1 between the empirical distributions of 1-D sample
    sets a (n,) and b (m,), any sizes:

        W1 = integral |F_a(t) - F_b(t)| dt = sum_i |F_a(t_i) - F_b(t_i)| (t_{i+1} - t_i)

    over the sorted union t of both sets (the CDFs are constant between its points).
    For n = m this equals mean_i |a_(i) - b_(i)| of the sorted samples.
    """
    xp = get_array_module(a, b)
    a, b = xp.asarray(a).ravel(), xp.asarray(b).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("emd_1d: both sample sets must be non-empty")
    a, b = xp.sort(a), xp.sort(b)
    t = xp.sort(xp.concatenate([a, b]))
    # F(t_i) = #{samples <= t_i} / n on [t_i, t_{i+1}); float64 explicitly (counts / n)
    cdf_a = xp.searchsorted(a, t[:-1], side="right").astype(xp.float64) / a.size
    cdf_b = xp.searchsorted(b, t[:-1], side="right").astype(xp.float64) / b.size
    return float((xp.abs(cdf_a - cdf_b) * xp.diff(t)).sum())


def emd_discrete(P, Q) -> float:
    """Earth mover's distance of two piles of dirt on unit-spaced positions 0..n-1.

        EMD(P, Q) = sum_i |C_i|,   C_i = sum_{j <= i} (P_j - Q_j)

    C_i is the dirt that must cross from position i to i+1 (negative: leftwards). Both
    piles must hold the same total mass. (3, 2, 1, 4) vs (1, 2, 4, 3) gives 5.
    """
    xp = get_array_module(P, Q)
    P, Q = xp.asarray(P), xp.asarray(Q)
    if P.ndim != 1 or P.shape != Q.shape:
        raise ValueError(f"emd_discrete: expected two 1-D histograms of equal length, got "
                         f"{tuple(P.shape)} and {tuple(Q.shape)}")
    total_p, total_q = float(P.sum()), float(Q.sum())
    if abs(total_p - total_q) > 1e-9 * max(abs(total_p), abs(total_q), 1.0):
        raise ValueError(f"emd_discrete: the piles must hold equal mass, got {total_p} and {total_q}")
    return float(xp.abs(xp.cumsum(P - Q)).sum())
