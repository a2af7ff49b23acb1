"""How well an unsupervised code predicts a label: the best one-to-one match of codes to
classes (InfoGAN's categorical-code accuracy, Chen et al. 2016, sec. 7.1).

With counts N[c, y] = #{samples generated with code c and classified as y}, the accuracy
is max over one-to-one maps pi of sum_c N[c, pi(c)] / sum N: a code may not claim a
class another code already has (a majority vote per code could give two codes one
class). The maximum is an assignment problem, solved exactly by the Hungarian method
(Kuhn 1955; the O(n^3) form with row and column potentials u, v, reduced cost
C[i, j] - u_i - v_j >= 0), here on C = max N - N (minimising C maximises N).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy

from ..backend import to_numpy


class CodeMatch(NamedTuple):
    accuracy: float            # matched samples / all samples
    assignment: numpy.ndarray  # (n_codes,) the class each code is matched to
    counts: numpy.ndarray      # (n_codes, n_classes) N[c, y]


def min_cost_assignment(cost) -> list:
    """Column of each row in a minimum-cost perfect matching of a square cost matrix
    (Hungarian method with potentials, O(n^3); rows and columns 1-based inside, 0 is the
    virtual start column)."""
    cost = numpy.asarray(cost, dtype=numpy.float64)
    n = cost.shape[0]
    if cost.ndim != 2 or cost.shape[1] != n:
        raise ValueError(f"min_cost_assignment: expected a square matrix, got {cost.shape}")
    u, v = [0.0] * (n + 1), [0.0] * (n + 1)
    match, way = [0] * (n + 1), [0] * (n + 1)       # match[j]: row matched to column j
    for i in range(1, n + 1):
        match[0], j0 = i, 0
        min_reduced, used = [float("inf")] * (n + 1), [False] * (n + 1)
        while match[j0] != 0:                       # grow an alternating tree from row i
            used[j0] = True
            i0, delta, j1 = match[j0], float("inf"), 0
            for j in range(1, n + 1):
                if not used[j]:
                    reduced = cost[i0 - 1, j - 1] - u[i0] - v[j]
                    if reduced < min_reduced[j]:
                        min_reduced[j], way[j] = reduced, j0
                    if min_reduced[j] < delta:
                        delta, j1 = min_reduced[j], j
            for j in range(n + 1):                  # shift potentials: a zero-cost edge appears
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    min_reduced[j] -= delta
            j0 = j1
        while j0:                                   # augment along the path found
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    rows = [0] * n
    for j in range(1, n + 1):
        rows[match[j] - 1] = j - 1
    return rows


def code_class_accuracy(codes, classes, n_codes: int, n_classes: int) -> CodeMatch:
    """Share of samples whose class is the one their code is matched to, under the best
    one-to-one match of codes to classes. ``codes``, ``classes``: (N,) integer arrays
    (NumPy or CuPy); needs n_codes <= n_classes."""
    codes = numpy.asarray(to_numpy(codes)).astype(numpy.int64).ravel()
    classes = numpy.asarray(to_numpy(classes)).astype(numpy.int64).ravel()
    if codes.shape != classes.shape or codes.size == 0:
        raise ValueError(f"code_class_accuracy: expected two (N,) arrays with N >= 1, got "
                         f"{codes.shape} and {classes.shape}")
    if not 1 <= n_codes <= n_classes:
        raise ValueError(f"code_class_accuracy: need 1 <= n_codes <= n_classes, got "
                         f"{n_codes}, {n_classes}")
    if codes.min() < 0 or codes.max() >= n_codes or classes.min() < 0 or classes.max() >= n_classes:
        raise ValueError("code_class_accuracy: codes or classes out of range")
    # the contingency table counts[c, k] = #{i : code_i = c, class_i = k}, as one bincount
    counts = numpy.bincount(codes * n_classes + classes,
                            minlength=n_codes * n_classes).reshape(n_codes, n_classes)
    square = numpy.zeros((n_classes, n_classes), dtype=numpy.int64)
    square[:n_codes] = counts                       # padding rows: codes that match nothing
    rows = min_cost_assignment(square.max() - square)
    assignment = numpy.asarray(rows[:n_codes], dtype=numpy.int64)
    matched = int(counts[numpy.arange(n_codes), assignment].sum())
    return CodeMatch(matched / codes.size, assignment, counts)
