"""The mode-collapse study on 2-D Gaussian mixtures, beside PacGAN's Table 1.

    python benchmarks/mode_collapse.py --out benchmarks/mode_collapse.md
    python benchmarks/mode_collapse.py --seeds 2 --steps 200 --out /tmp/mc.md   # a quick look
    python benchmarks/mode_collapse.py --setup pacgan --out /tmp/pacgan.md       # PacGAN's setup

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

Two setups. ``--setup tinygan`` (the default) is the one above, affordable on a CPU.
``--setup pacgan`` is PacGAN's own (Lin et al. 2018, sec. 5.1, which follows VEEGAN; the
values from their released code, github.com/fjxmlzn/PacGAN, synthetic_data_experiments/
2DRing_GAN&PacGAN and 2DGrid_GAN&PacGAN config.py and pacgan_task.py): G with 4 hidden
layers of 400 ReLU units and BatchNorm, D with 3 maxout layers of 200 units x 5 pieces
(tinygan.models.pacgan_toy_generator / pacgan_toy_discriminator), weights N(0, 0.02^2),
Adam lr 1e-4 with beta1 0.8 for the GANs, constant, minibatches of 100 (of packs: pacgan4
draws 400 samples), 400 epochs of 100,000 samples = 400,000 updates. On this CPU that is
hours per run; --steps and the other options override a setup's values.

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
#: Each setup's option values. tinygan: MLPs a CPU trains in seconds. pacgan: Lin et al.
#: 2018's released code (module docstring): their networks, Adam(1e-4, beta1 0.8) constant,
#: 100 packs per minibatch, 400 epochs x 1,000 minibatches.
SETUPS = {
    "tinygan": {"arch": "mlp", "steps": 3000, "width": 64, "batch_size": 256, "lr": 1e-3,
                "lr_decay": 1.0, "gan_beta1": None, "lam": 0.1, "batch_of_packs": False},
    "pacgan": {"arch": "pacgan", "steps": 400_000, "width": 400, "batch_size": 100, "lr": 1e-4,
               "lr_decay": 0.0, "gan_beta1": 0.8, "lam": 0.1, "batch_of_packs": True},
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
    p.add_argument("--setup", choices=tuple(SETUPS), default="tinygan",
                   help="the defaults of every option below: tinygan's (3 x 64 ReLU MLPs, "
                        "3,000 updates) or PacGAN's (its networks, optimiser and 400,000 "
                        "updates)")
    p.add_argument("--steps", type=int, default=None, help="generator updates per run")
    p.add_argument("--width", type=int, default=None,
                   help="hidden units per layer (MLP architecture only)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples per minibatch (setup pacgan: packs per minibatch)")
    p.add_argument("--lr", type=float, default=None, help="starting learning rate (not WGAN's)")
    p.add_argument("--lr-decay", type=float, default=None, metavar="F",
                   help="decay the learning rates linearly to 0 over the last fraction F")
    p.add_argument("--gan-beta1", type=float, default=None,
                   help="beta1 of the Adam of gan, nsgan, lsgan and pacgan4")
    p.add_argument("--lam", type=float, default=None, help="WGAN-GP's penalty weight")
    p.add_argument("--dir", default=os.path.join("runs", "mode_collapse"))
    p.add_argument("--out", default=None, help="markdown table (default: print only)")
    p.add_argument("--figures", default=None,
                   help="folder for mode_collapse_<mixture>.png (default: --dir)")
    a = p.parse_args(argv)
    for name, value in SETUPS[a.setup].items():
        if getattr(a, name, None) is None:
            setattr(a, name, value)
    a.mixtures = [s for s in a.mixtures.split(",") if s]
    a.algos = [s for s in a.algos.split(",") if s]
    bad = [m for m in a.mixtures if m not in MIXTURES] + [s for s in a.algos if s not in ALGOS]
    if bad or not a.mixtures or not a.algos:
        p.error(f"unknown or no mixtures/algorithms {bad}; choose from {MIXTURES} and {list(ALGOS)}")
    for name in ("seeds", "steps", "width", "batch_size"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if not 0.0 <= a.lr_decay <= 1.0:
        p.error(f"--lr-decay must be in [0, 1], got {a.lr_decay}")
    if a.batch_size % 4 and not a.batch_of_packs:
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
    batch = a.batch_size * pack if a.batch_of_packs else a.batch_size
    opts = SimpleNamespace(dataset=mixture, arch=a.arch, width=a.width, seed=seed, lam=a.lam,
                           pack=pack, lr=a.lr if lr is None else lr, lr_decay=a.lr_decay,
                           gan_beta1=a.gan_beta1, steps=a.steps, snapshots=1, batch_size=batch)
    _, final, seconds, last, _ = toy_2d.train_one(loss, opts, log=lambda *_: None)
    centres, std = TOY_MODES[mixture]
    cov = metrics.mode_coverage(final, centres, std)
    return {"mixture": mixture, "algo": algo, "seed": seed, "settings": _settings(a),
            "modes_captured": cov.modes_captured, "n_modes": len(centres),
            "high_quality_share": cov.high_quality_share, "batch_size": batch,
            "counts": [int(c) for c in cov.counts], "seconds": round(seconds, 1),
            "final_stats": last}, final


def _settings(a):
    return {"setup": a.setup, "arch": a.arch, "steps": a.steps, "width": a.width,
            "batch_size": a.batch_size, "batch_of_packs": a.batch_of_packs, "lr": a.lr,
            "lr_decay": a.lr_decay, "gan_beta1": a.gan_beta1, "lam": a.lam}


def mean_se(values):
    """(mean, standard error = sample std / sqrt(n)); s.e. 0 for one value."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def describe(a):
    """The settings of a study in words, for its table."""
    if a.arch == "pacgan":
        nets = ("PacGAN's networks (G 4 x 400 ReLU with BatchNorm, D 3 maxout layers of "
                "200 x 5)")
    else:
        nets = f"MLPs of 3 hidden ReLU layers of {a.width}"
    batch = f"batch {a.batch_size}" + (" packs" if a.batch_of_packs else "")
    schedule = ("decayed linearly to 0" if a.lr_decay == 1 else "constant" if a.lr_decay == 0
                else f"decayed linearly to 0 over the last {a.lr_decay:g}")
    beta1 = f", Adam beta1 {a.gan_beta1:g} for the GANs" if a.gan_beta1 is not None else ""
    return (f"{a.steps} generator updates, {batch}, {nets}, lr {a.lr:g} (WGAN: 5e-5) "
            f"{schedule}{beta1}, WGAN-GP lam {a.lam:g}")


def markdown(results, a, command):
    lines = ["# Mode collapse on 2-D mixtures", "", f"Command: `{command}`", "",
             f"{a.seeds} seeds (0-{a.seeds - 1}) per algorithm; {describe(a)}; 2,500 samples "
             "per run. Mean +- standard error over seeds.", ""]
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
