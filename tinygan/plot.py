"""Pictures of training: sample grids, loss curves, 2-D scatter progressions, and
:class:`EpochPictures`, the epoch-end callback of :func:`tinygan.loop.fit` that draws a
run's grids and curves (training code itself draws nothing).

Plotting happens outside the training step, so every function first takes a host copy
of its arrays (:func:`tinygan.backend.to_numpy`) and works with NumPy from there on.

matplotlib is used through ``matplotlib.figure.Figure`` and the Agg canvas directly,
never through ``pyplot``: no global backend is selected or changed, so a user with an
interactive backend (or a notebook) keeps it, and no figure is left open in pyplot's
registry. Every PNG is written atomically (a temporary file in the same folder, then
``os.replace``), so a crash or an interrupt never leaves a half-written picture, and a
viewer that reloads ``losses.png`` while training runs never sees a torn file.
"""
from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from . import backend, checks
from .atomic import atomic_open
from .backend import to_numpy

__all__ = ["make_grid", "save_sample_grid", "save_loss_curves", "save_scatter_progression",
           "save_scatter_table", "save_curves_1d", "save_metric_curve", "save_metric_panels",
           "EpochPictures", "fixed_inputs",
           "grid_name", "LOSSES_NAME"]

LOSSES_NAME = "losses.png"

# Statistics whose name contains one of these go on the "losses" panel of the curves;
# everything else (D(x), D(G(z)), the Wasserstein estimate, gradient norms) goes on a
# second panel, because their scales differ from the losses'.
_LOSS_MARKERS = ("loss", "penalty", "gp")
# History keys that are x coordinates or bookkeeping, never plotted as curves.
_X_KEYS = ("iteration", "g_step", "d_step", "epoch", "step")
# Up to this many logged points the curves get markers (beyond, markers hide the line).
_MARKERS_UP_TO = 50


# -- writing ----------------------------------------------------------------------
def _save_png(fig: Figure, path, dpi: float = 100.0) -> str:
    """Lay out ``fig``'s axes (if it has any), render it with the Agg canvas and write it
    to ``path`` atomically."""
    path = os.fspath(path)
    if fig.axes:
        fig.tight_layout()
    FigureCanvasAgg(fig)  # attaches the canvas to the figure; no global state
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return path


# -- sample grids -----------------------------------------------------------------
def _as_images(images) -> np.ndarray:
    """Host array of shape (N, H, W) from (N, 784), (N, H, W) or (N, 1, H, W)."""
    a = to_numpy(images)
    if a.ndim == 2:
        side = math.isqrt(a.shape[1])
        if side * side != a.shape[1]:
            raise ValueError(
                f"save_sample_grid: flat images must have a square number of features "
                f"(784 for MNIST), got shape {a.shape}")
        a = a.reshape(a.shape[0], side, side)
    elif a.ndim == 4:
        if a.shape[1] != 1:
            raise ValueError(
                f"save_sample_grid: expected one channel (N, 1, H, W), got shape {a.shape}")
        a = a[:, 0]
    elif a.ndim != 3:
        raise ValueError(
            "save_sample_grid: expected images of shape (N, H*W), (N, H, W) or (N, 1, H, W), "
            f"got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError("save_sample_grid: no images to plot (N = 0)")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"save_sample_grid: expected float images in [-1, 1], got {a.dtype}")
    return a


def make_grid(images, nrow: int = 10, padding: int = 2, pad_value: float = 1.0,
              value_range=(-1.0, 1.0)) -> np.ndarray:
    """Tile N images into one host array with ``nrow`` images per row.

    ``images`` in ``value_range`` ([-1, 1], a tanh generator's, by default; (0, 1) for a
    sigmoid generator) of shape (N, 784), (N, H, W) or
    (N, 1, H, W); returns grey levels in [0, 1] of shape
    (rows*(H+p)+p, nrow*(W+p)+p), rows = ceil(N / nrow), p = ``padding``. Empty cells
    and the padding take ``pad_value``. Built by one reshape/transpose, no loop.
    """
    nrow = checks.integer(nrow, "nrow", "make_grid", low=1)
    padding = checks.integer(padding, "padding", "make_grid", low=0)
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(f"make_grid: value_range must be (low, high) with low < high, "
                         f"got {value_range!r}")
    a = _as_images(images)
    n, h, w = a.shape
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    # [low, high] -> [0, 1]; clip so that a slightly out-of-range sample does not rescale the rest
    a = np.clip((a.astype(np.float32) - low) / (high - low), 0.0, 1.0)
    cells = np.full((rows * ncol, h + padding, w + padding), pad_value, dtype=np.float32)
    cells[:n, :h, :w] = a
    # (rows, ncol, h+p, w+p) -> (rows, h+p, ncol, w+p) -> 2-D, then the top/left border
    grid = cells.reshape(rows, ncol, h + padding, w + padding).transpose(0, 2, 1, 3)
    grid = grid.reshape(rows * (h + padding), ncol * (w + padding))
    return np.pad(grid, ((padding, 0), (padding, 0)), constant_values=pad_value)


def save_sample_grid(images, path, nrow: int = 10, padding: int = 2, scale: int = 2,
                     value_range=(-1.0, 1.0)) -> str:
    """Write N images in ``value_range`` (default [-1, 1]) as a grey grid PNG with ``nrow``
    images per row.

    ``images``: (N, 784), (N, H, W) or (N, 1, H, W), NumPy or CuPy (copied to the host).
    Each image pixel becomes a ``scale`` x ``scale`` block of the PNG (pixel exact, no
    interpolation), so the file stays small: 100 MNIST digits at scale 2 are 604 x 604.
    Returns the path written.
    """
    scale = checks.integer(scale, "scale", "save_sample_grid", low=1)
    grid = make_grid(images, nrow=nrow, padding=padding, value_range=value_range)
    grid = np.kron(grid, np.ones((scale, scale), dtype=grid.dtype))  # nearest upscaling
    dpi = 100.0
    fig = Figure(figsize=(grid.shape[1] / dpi, grid.shape[0] / dpi), dpi=dpi)
    fig.figimage(grid, cmap="gray", vmin=0.0, vmax=1.0, origin="upper")
    return _save_png(fig, path, dpi)


# -- loss curves ------------------------------------------------------------------
def save_loss_curves(history: dict, path, x_key: str = "iteration",
                     title: str | None = None) -> str:
    """Plot every logged statistic of ``history`` against ``history[x_key]``.

    ``history``: {name: list of floats}, all lists of equal length (one entry per logged
    step, as :func:`tinygan.loop.fit` records them). The x axis is ``history[x_key]``
    (iterations, i.e. discriminator/critic updates, by default; pass ``"g_step"`` for
    generator steps) or the entry index when that key is absent. Losses (names with
    "loss", "penalty" or "gp") share the first panel; the other statistics (D(x), D(G(z)),
    the Wasserstein estimate, gradient norms) the second, since their scales differ.
    Non-finite values show as gaps. With few logged points (at most
    ``_MARKERS_UP_TO``) every point also gets a marker, so that a single point (a one-epoch
    run logs once) still shows. Returns the path written.
    """
    if not isinstance(history, dict):
        raise TypeError(f"save_loss_curves: expected a dict {{name: list of floats}}, got "
                        f"{type(history).__name__}")
    series = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
    for k, v in series.items():
        if v.ndim != 1:
            raise ValueError(
                f"save_loss_curves: history[{k!r}] must be a 1-D list, got shape {v.shape}")
    curves = {k: v for k, v in series.items() if k not in _X_KEYS}
    lengths = {len(v) for v in curves.values()}
    if len(lengths) > 1:
        raise ValueError(f"save_loss_curves: all statistics must have the same length, got "
                         f"{ {k: len(v) for k, v in curves.items()} }")
    n = lengths.pop() if lengths else 0
    if x_key in series and len(series[x_key]) == n:
        x, xlabel = series[x_key], x_key.replace("_", " ")
    else:
        x, xlabel = np.arange(n, dtype=np.float64), "logged step"

    is_loss = {k: any(m in k for m in _LOSS_MARKERS) for k in curves}
    panels = [(name, {k: v for k, v in curves.items() if is_loss[k] == loss_panel})
              for name, loss_panel in (("losses", True), ("other statistics", False))]
    panels = [(name, group) for name, group in panels if group] or [("losses", {})]
    fig = Figure(figsize=(7.0, 2.8 * len(panels)), dpi=100)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    marker = "o" if n <= _MARKERS_UP_TO else None  # a lone point has no line to draw
    for ax, (name, group) in zip(axes, panels):
        for k, v in group.items():
            ax.plot(x, v, label=k, linewidth=1.0, marker=marker, markersize=3)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        if group:
            ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel(xlabel)
    if title:
        axes[0].set_title(title)
    return _save_png(fig, path)


# -- 2-D scatter progressions -----------------------------------------------------
def _points(a, what: str) -> np.ndarray:
    p = to_numpy(a)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{what}: expected points of shape (n, 2), got shape {p.shape}")
    return p


def _limits(real: np.ndarray, margin: float = 0.25):
    """Square axis limits around the real data, shared by every panel so that panels
    compare (samples that leave this box are off the picture, which is itself telling)."""
    lo, hi = real.min(axis=0), real.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * (1 + margin) + 1e-6
    return (centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)


def save_scatter_table(rows: dict, real, path, centres=None, point_size: float = 2.0,
                       column_label: str = "step") -> str:
    """A table of scatter plots: one row per algorithm, one column per snapshot.

    ``rows``: {algorithm name: [(step, samples (n, 2)), ...]} (rows may have different
    numbers of snapshots). ``real``: (n, 2) points of the data distribution, drawn grey
    in every panel; samples are drawn coloured on top. ``centres``: optional (K, 2) mode
    centres marked with crosses (the Gaussian mixtures). Panels are titled
    "<column_label> <step>" (e.g. "seed 3" for a table of seeds). Returns the path written.
    """
    if not rows or any(len(s) == 0 for s in rows.values()):
        raise ValueError(
            "save_scatter_table: every row needs at least one (step, samples) snapshot")
    real = _points(real, "save_scatter_table real")
    cen = None if centres is None else _points(centres, "save_scatter_table centres")
    (x0, x1), (y0, y1) = _limits(real if cen is None else np.concatenate([real, cen]))
    ncol = max(len(s) for s in rows.values())
    fig = Figure(figsize=(2.2 * ncol, 2.3 * len(rows)), dpi=100)
    axes = fig.subplots(len(rows), ncol, squeeze=False)
    colours = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown"]
    for r, (name, snapshots) in enumerate(rows.items()):
        for c in range(ncol):
            ax = axes[r, c]
            ax.set(xlim=(x0, x1), ylim=(y0, y1), aspect="equal", xticks=[], yticks=[])
            if c >= len(snapshots):
                ax.axis("off")
                continue
            step, samples = snapshots[c]
            samples = _points(samples, f"save_scatter_table {name!r} step {step}")
            ax.scatter(real[:, 0], real[:, 1], s=point_size, c="0.75", linewidths=0)
            ax.scatter(samples[:, 0], samples[:, 1], s=point_size,
                       c=colours[r % len(colours)], linewidths=0)
            if cen is not None:
                ax.scatter(cen[:, 0], cen[:, 1], s=18, marker="x", c="k", linewidths=0.8)
            ax.set_title(f"{column_label} {step}", fontsize="small")
            if c == 0:
                ax.set_ylabel(name)
    return _save_png(fig, path)


def save_scatter_progression(snapshots, real, path, title: str = "samples",
                             centres=None, point_size: float = 2.0) -> str:
    """The mode-collapse picture for one algorithm: one panel per snapshot.

    ``snapshots``: [(step, samples (n, 2)), ...] in training order; ``real``: (n, 2)
    data points (grey); samples coloured on top; ``centres`` as in
    :func:`save_scatter_table`. Returns the path written.
    """
    return save_scatter_table({title: list(snapshots)}, real, path, centres=centres,
                              point_size=point_size)


# -- 1-D functions over two densities ----------------------------------------------
def save_curves_1d(x, p_data, p_g, panels, path, ylabel: str = "D(x)") -> str:
    """Panels of 1-D functions drawn over the two densities (shaded, right-hand axis).

    ``x`` (n,) grid; ``p_data``, ``p_g`` (n,) densities on it; ``panels``: a list of
    (title, {label: y (n,)}): the optimal discriminator's picture, one panel per
    comparison. Returns the path written.
    """
    x = np.asarray(to_numpy(x), dtype=np.float64)
    densities = [np.asarray(to_numpy(p), dtype=np.float64) for p in (p_data, p_g)]
    if x.ndim != 1 or any(p.shape != x.shape for p in densities):
        raise ValueError(f"save_curves_1d: expected x (n,) and densities of its shape, got "
                         f"{x.shape}, {[p.shape for p in densities]}")
    if not panels:
        raise ValueError("save_curves_1d: no panels to draw")
    fig = Figure(figsize=(5.0 * len(panels), 3.6), dpi=100)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, curves) in zip(axes, panels):
        dens = ax.twinx()
        for p, label, colour in zip(densities, ("p_data", "p_g"), ("tab:green", "tab:red")):
            dens.fill_between(x, p, color=colour, alpha=0.15, linewidth=0, label=label)
        dens.set_ylim(0, 1.15 * max(p.max() for p in densities))
        dens.set_yticks([])
        for label, y in curves.items():
            y = np.asarray(to_numpy(y), dtype=np.float64)
            if y.shape != x.shape:
                raise ValueError(f"save_curves_1d: curve {label!r} has shape {y.shape}, "
                                 f"expected {x.shape}")
            ax.plot(x, y, label=label, linewidth=1.4, linestyle="--" if "*" in label else "-")
        ax.set_zorder(dens.get_zorder() + 1)   # curves above the shading
        ax.patch.set_visible(False)
        ax.set_title(title, fontsize="medium")
        ax.set(xlabel="x", ylabel=ylabel)
        ax.grid(True, alpha=0.3)
        handles = ax.get_legend_handles_labels()
        shades = dens.get_legend_handles_labels()
        ax.legend(handles[0] + shades[0], handles[1] + shades[1], loc="best", fontsize="small")
    return _save_png(fig, path)


# -- a metric against training time -------------------------------------------------
def save_metric_curve(x, y, path, yerr=None, *, references=(), extra=(), xlabel="epoch",
                      ylabel="", title=None, label="measured", ymin=None, ymax=None) -> str:
    """One measured metric against training time, with optional error bars.

    ``x``, ``y`` (and ``yerr``): equal-length sequences of floats. ``references``:
    ``(label, value, band)`` horizontal lines (band: a half-width shaded around it, or 0),
    e.g. a published figure. ``extra``: ``(label, xs, ys)`` dashed curves, e.g. fits and
    their extrapolations. ``ymin``, ``ymax``: the y axis' ends (None: automatic). Returns the
    path written.
    """
    x, y = _points_1d(x, "x"), _points_1d(y, "y")
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"save_metric_curve: need equal-length non-empty x and y, got "
                         f"{x.shape} and {y.shape}")
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    if yerr is None:
        ax.plot(x, y, "o-", ms=3, lw=1, label=label)
    else:
        ax.errorbar(x, y, yerr=_points_1d(yerr, "yerr"), fmt="o-", ms=3, lw=1, capsize=2,
                    label=label)
    for name, value, band in references:
        ax.axhline(value, color="k", lw=1, ls=":", label=name)
        if band:
            ax.axhspan(value - band, value + band, color="k", alpha=0.08)
    for name, xs, ys in extra:
        ax.plot(_points_1d(xs, "xs"), _points_1d(ys, "ys"), "--", lw=1, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(ymin, ymax))
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save_png(fig, path)


def save_metric_panels(panels, path, ylabel="", log=(True, True)) -> str:
    """Side-by-side panels of several measured curves each, with error bars, e.g. one
    metric against training steps and against seconds, one line per algorithm.

    ``panels``: a list of ``(xlabel, title, lines)``, ``lines`` a list of
    ``(label, xs, ys, yerrs)`` (equal-length sequences; ``yerrs`` may be None). A label
    keeps its colour and marker from panel to panel. ``log``: (x, y) logarithmic axes.
    Returns the path written.
    """
    if not panels:
        raise ValueError("save_metric_panels: need at least one panel")
    fig = Figure(figsize=(6.0 * len(panels), 4.6))
    labels = list(dict.fromkeys(label for _, _, lines in panels for label, *_ in lines))
    markers = "osD^v<>ph*"
    for i, (xlabel, title, lines) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for label, xs, ys, yerrs in lines:
            x, y = _points_1d(xs, "xs"), _points_1d(ys, "ys")
            if x.shape != y.shape:
                raise ValueError(f"save_metric_panels: {label!r} has {x.size} x and {y.size} "
                                 "y values")
            k = labels.index(label)
            ax.errorbar(x, y, yerr=None if yerrs is None else _points_1d(yerrs, "yerrs"),
                        fmt=markers[k % len(markers)] + "-", color=f"C{k % 10}", ms=3, lw=1,
                        capsize=2, label=label)
        ax.set(xlabel=xlabel, ylabel=ylabel, xscale="log" if log[0] else "linear",
               yscale="log" if log[1] else "linear")
        for axis, logarithmic in zip((ax.xaxis, ax.yaxis), log):
            if logarithmic:   # 200, 300 rather than 2 x 10^2, 3 x 10^2
                axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
                axis.set_minor_formatter(LogFormatter(labelOnlyBase=False,
                                                      minor_thresholds=(2, 0.4)))
        if title:
            ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if lines:
            ax.legend(fontsize=8)
    return _save_png(fig, path)


def _points_1d(a, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {a.shape}")
    return a


# -- the pictures of a training run, after each epoch -------------------------------
def grid_name(epoch: int) -> str:
    """File name of the sample grid written after ``epoch`` (1-based) epochs."""
    return f"samples_epoch_{epoch:03d}.png"


def fixed_inputs(trainer, n: int = 100, seed: int = 0):
    """The noise (and labels) behind every epoch's grid: ``(z, y)`` device arrays.

    Conditional trainers get ``n_classes`` rows of ``n // n_classes`` samples each, row
    i showing class i (``y`` int64 labels, ``y = [0]*k + [1]*k + ...``); otherwise ``y``
    is None. z comes from ``trainer.sample_noise`` with its own generator seeded by
    ``seed`` (never the training generator, so drawing it does not change the run), so
    a resumed run draws the same z again and every grid shows the same z.
    """
    xp = backend.get_backend()
    rng = backend.make_rng(seed)
    if getattr(trainer, "conditional", False):
        k = trainer.n_classes
        per_class = max(1, n // k)
        y = xp.repeat(xp.arange(k, dtype=xp.int64), per_class)
        return trainer.sample_noise(k * per_class, rng=rng), y
    return trainer.sample_noise(n, rng=rng), None


class EpochPictures:
    """``fit(..., on_epoch_end=EpochPictures(out_dir, trainer))``: after each epoch, 100
    samples from one fixed noise batch (:func:`fixed_inputs`; conditional models: one
    row per class) as ``samples_epoch_{e:03d}.png``, and the logged statistics as
    ``losses.png``. ``noise``: ``(z, y)`` for the grids instead of :func:`fixed_inputs`'s;
    ``value_range``: G's output range ((0, 1) for a sigmoid G)."""

    def __init__(self, out_dir, trainer, n_grid: int = 100, noise=None, value_range=(-1.0, 1.0)):
        self.out_dir, self.value_range = os.fspath(out_dir), value_range
        self.z, self.y = noise if noise is not None else fixed_inputs(trainer, n_grid)
        n = int(self.z.shape[0])
        self.nrow = (max(1, n // trainer.n_classes) if getattr(trainer, "conditional", False)
                     else min(10, n))

    def __call__(self, epoch, trainer, history):
        grid = trainer.sample(z=self.z, y=self.y)
        save_sample_grid(grid, os.path.join(self.out_dir, grid_name(epoch)), nrow=self.nrow,
                         value_range=self.value_range)
        save_loss_curves(history, os.path.join(self.out_dir, LOSSES_NAME))
