"""The mode-collapse study on 2-D Gaussian mixtures, beside PacGAN's Table 1.

    python benchmarks/mode_collapse.py --out benchmarks/mode_collapse.md
    python benchmarks/mode_collapse.py --seeds 2 --steps 200 --out /tmp/mc.md   # a quick look

For each mixture (ring8: 8 Gaussians on the unit circle, std 0.01; grid25: means
{-4, -2, 0, 2, 4}^2, std 0.05; Lin et al. 2018, sec. 5.1), each algorithm and each seed
0 .. --seeds - 1, one run of ``examples/toy_2d.py``'s training (the same models and
loop: MLPs of 3 hidden ReLU layers of --width, noise dimension 2, batch 256, --steps
generator updates, the learning rate decayed linearly to 0 over the run), then 2,500
samples scored with tinygan.metrics.mode_coverage: a sample is high quality within 3 std
of its nearest mode, a mode is captured when at least one high-quality sample lies
nearest to it. The table gives mean +- standard error (sample std / sqrt(seeds)) over
seeds of the modes captured and of the high-quality share.

Algorithms: gan (minimax), nsgan, wgan (clipping), wgan-gp, lsgan, and pacgan4 (nsgan
with PacGAN's packing m = 4: D sees 4 samples concatenated). Learning rates: --lr for
every algorithm's paper optimiser, except WGAN's RMSProp, which keeps its paper's 5e-5
(at 1e-3 its clipped critic went flat on ring8: README, "Sample quality").

Each run's result goes to DIR/<mixture>/<algo>-seed<S>.json as soon as it finishes; a
rerun with the same settings skips runs already there, so an interrupted study resumes.
Writes the markdown table to --out and one picture per mixture (rows: algorithms,
columns: seeds; final samples coloured over the data in grey) to --figures.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from types import SimpleNamespace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
sys.path.insert(0, ROOT)

from _blas import set_blas_threads  # noqa: E402  (examples/_blas.py, before NumPy loads)

MIXTURES = ("ring8", "grid25")
#: name -> (make_trainer loss, PacGAN's m, learning rate: None = --lr, else fixed)
ALGOS = {
    "gan": ("gan", 1, None),
    "nsgan": ("nsgan", 1, None),
    "wgan": ("wgan", 1, 5e-5),
    "wgan-gp": ("wgan-gp", 1, None),
    "lsgan": ("lsgan", 1, None),
    "pacgan4": ("nsgan", 4, None),
}
#: Lin et al. 2018, Table 1: modes captured (mean +- s.e.); their high-quality shares lie
#: between about 93% and 98% across the table's rows.
PACGAN_TABLE = {
    "ring8": {"GAN": "6.3 +- 0.5", "PacGAN4": "7.8 +- 0.1"},
    "grid25": {"GAN": "17.3 +- 0.8", "PacGAN4": "24.8 +- 0.2"},
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mixtures", default=",".join(MIXTURES))
    p.add_argument("--algos", default=",".join(ALGOS))
    p.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1 per algorithm")
    p.add_argument("--steps", type=int, default=3000, help="generator updates per run")
    p.add_argument("--width", type=int, default=64, help="hidden units per layer")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3, help="starting learning rate (not WGAN's)")
    p.add_argument("--lam", type=float, default=0.1, help="WGAN-GP's penalty weight (toy script)")
    p.add_argument("--dir", default=os.path.join("runs", "mode_collapse"))
    p.add_argument("--out", default=None, help="markdown table (default: print only)")
    p.add_argument("--figures", default=None,
                   help="folder for mode_collapse_<mixture>.png (default: --dir)")
    a = p.parse_args(argv)
    a.mixtures = [s for s in a.mixtures.split(",") if s]
    a.algos = [s for s in a.algos.split(",") if s]
    bad = [m for m in a.mixtures if m not in MIXTURES] + [s for s in a.algos if s not in ALGOS]
    if bad or not a.mixtures or not a.algos:
        p.error(f"unknown or no mixtures/algorithms {bad}; choose from {MIXTURES} and {list(ALGOS)}")
    for name in ("seeds", "steps", "width", "batch_size"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if a.batch_size % 4:
        p.error(f"--batch-size must be a multiple of 4 (pacgan4), got {a.batch_size}")
    return a


def run_one(mixture, algo, seed, a):
    """Train one (mixture, algorithm, seed) with toy_2d's loop; returns its result dict and
    the final samples (N_EVAL, 2)."""
    import toy_2d
    from tinygan import backend, metrics
    from tinygan.data import TOY_MODES

    loss, pack, lr = ALGOS[algo]
    backend.set_backend("numpy", seed=seed)
    opts = SimpleNamespace(dataset=mixture, width=a.width, seed=seed, lam=a.lam, pack=pack,
                           lr=a.lr if lr is None else lr, lr_decay=1.0, steps=a.steps,
                           snapshots=1, batch_size=a.batch_size)
    _, final, seconds, last, _ = toy_2d.train_one(loss, opts, log=lambda *_: None)
    centres, std = TOY_MODES[mixture]
    cov = metrics.mode_coverage(final, centres, std)
    return {"mixture": mixture, "algo": algo, "seed": seed, "settings": _settings(a),
            "modes_captured": cov.modes_captured, "n_modes": len(centres),
            "high_quality_share": cov.high_quality_share,
            "counts": [int(c) for c in cov.counts], "seconds": round(seconds, 1),
            "final_stats": last}, final


def _settings(a):
    return {"steps": a.steps, "width": a.width, "batch_size": a.batch_size, "lr": a.lr,
            "lam": a.lam}


def mean_se(values):
    """(mean, standard error = sample std / sqrt(n)); s.e. 0 for one value."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def markdown(results, a, command):
    lines = ["# Mode collapse on 2-D mixtures", "", f"Command: `{command}`", "",
             f"{a.seeds} seeds (0-{a.seeds - 1}) per algorithm; {a.steps} generator updates, "
             f"batch {a.batch_size}, MLPs of 3 hidden ReLU layers of {a.width}, lr {a.lr:g} "
             "(WGAN: 5e-5) decayed linearly to 0, WGAN-GP lam "
             f"{a.lam:g}; 2,500 samples per run. Mean +- standard error over seeds.", ""]
    for mixture in a.mixtures:
        rows = [r for r in results if r["mixture"] == mixture]
        if not rows:
            continue
        n_modes = rows[0]["n_modes"]
        lines += [f"## {mixture}", "",
                  f"| algorithm | modes (of {n_modes}) | high-quality share | seeds | "
                  "modes per seed | s per run |", "|---|---|---|---|---|---:|"]
        for algo in a.algos:
            mine = sorted((r for r in rows if r["algo"] == algo), key=lambda r: r["seed"])
            if not mine:
                continue
            m, m_se = mean_se([r["modes_captured"] for r in mine])
            q, q_se = mean_se([100 * r["high_quality_share"] for r in mine])
            per_seed = ", ".join(str(r["modes_captured"]) for r in mine)
            secs = sum(r["seconds"] for r in mine) / len(mine)
            lines.append(f"| {algo} | {m:.1f} +- {m_se:.1f} | {q:.1f} +- {q_se:.1f}% | "
                         f"{len(mine)} | {per_seed} | {secs:.0f} |")
        for name, modes in PACGAN_TABLE[mixture].items():
            lines.append(f"| {name}, Lin et al. 2018, Table 1 | {modes} | about 93-98% | - "
                         "| - | - |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    a = parse_args(argv)
    set_blas_threads(None)
    import numpy

    from tinygan import plot
    from tinygan.atomic import atomic_open
    from tinygan.data import TOY_MODES, sample_toy
    from tinygan import backend

    command = "python benchmarks/mode_collapse.py " + " ".join(
        shlex.quote(s) for s in (sys.argv[1:] if argv is None else argv))
    results, pictures = [], {}
    t0 = time.perf_counter()
    for seed in range(a.seeds):       # seeds outermost: a study stopped early covers
        for mixture in a.mixtures:    # every mixture and algorithm with fewer seeds
            for algo in a.algos:
                path = os.path.join(a.dir, mixture, f"{algo}-seed{seed}.json")
                samples_path = path[:-len(".json")] + ".npy"
                saved = None
                if os.path.isfile(path) and os.path.isfile(samples_path):
                    with open(path) as f:
                        saved = json.load(f)
                if saved is not None and saved.get("settings") == _settings(a):
                    result, final = saved, numpy.load(samples_path, allow_pickle=False)
                else:
                    result, final = run_one(mixture, algo, seed, a)
                    with atomic_open(samples_path, "wb") as f:
                        numpy.save(f, final)
                    with atomic_open(path, "w") as f:
                        json.dump(result, f, indent=2)
                results.append(result)
                pictures.setdefault(mixture, {}).setdefault(algo, []).append((seed, final))
                print(f"{mixture:<7} {algo:<8} seed {seed}: {result['modes_captured']}/"
                      f"{result['n_modes']} modes, {result['high_quality_share']:.1%} high "
                      f"quality ({result['seconds']:.0f} s; {time.perf_counter() - t0:.0f} s "
                      "so far)", flush=True)
                if a.out:     # the table so far: a study stopped part-way keeps it
                    with atomic_open(a.out, "w") as f:
                        f.write(markdown(results, a, command))
    figures = a.figures or a.dir
    for mixture, rows in pictures.items():
        centres, _ = TOY_MODES[mixture]
        real = backend.to_numpy(sample_toy(mixture, 1000, backend.make_rng(0)))
        plot.save_scatter_table(rows, real, os.path.join(figures, f"mode_collapse_{mixture}.png"),
                                centres=centres, column_label="seed")
    table = markdown(results, a, command)
    print()
    print(table)
    if a.out:
        with atomic_open(a.out, "w") as f:
            f.write(table)
        print(f"written: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
