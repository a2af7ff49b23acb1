"""GAN vs WGAN vs WGAN-GP (and LSGAN) on 2-D toy distributions: watching mode collapse.

    python examples/toy_2d.py                               # ring of 8 Gaussians, 3 algorithms
    python examples/toy_2d.py --dataset grid25 --steps 3000
    python examples/toy_2d.py --algos gan,nsgan,wgan,wgan-gp,lsgan --width 512
    python examples/toy_2d.py --steps 6000 --lr 1e-3 --lr-decay 1   # WGAN-GP 8/8, 93% (6 min)
    python examples/toy_2d.py --algos gan --pack 4          # PacGAN4: D sees 4 samples at once
    python examples/toy_2d.py --dataset grid25 --algos nsgan --pack 4 --arch pacgan \
        --batch-size 100 --lr 1e-4 --gan-beta1 0.8          # PacGAN's own networks and Adam
    python examples/toy_2d.py --dataset grid25 --algos wgan-gp --width 128 --steps 20000 \
        --lr 1e-3 --lr-decay 1                              # 25/25 modes, >= 90% high quality
    python benchmarks/mode_collapse.py                      # the seeds x algorithms study
    python benchmarks/mode_collapse.py --width 128 --steps 20000   # ... at the setting above

Every algorithm trains the same small MLPs (noise 2 -> width -> width -> width -> 2 with
ReLU; critic 2 -> width x3 -> 1), on fresh minibatches of the toy distribution, for
--steps generator updates (WGAN and WGAN-GP make n_critic = 5 critic updates per
generator update, the GANs one), with each algorithm's paper optimiser settings. The
WGAN-GP toy script's settings are the defaults where they are affordable on a CPU:
batch 256, lam 0.1; its width 512 is --width 512 (slower). ``--lr-decay F`` lowers both
learning rates linearly to 0 over the last fraction F of the steps: ring8's modes are
narrow (std 0.01), and only a small final learning rate lets the generator settle inside
them (README, "Ring of 8 Gaussians": with --lr 1e-3 --lr-decay 1, 6,000 steps, seed 0, WGAN-GP
captures 8/8 modes with 93% high-quality samples).

``--arch pacgan`` trains PacGAN's networks for these mixtures instead (Lin et al. 2018,
sec. 5.1, following VEEGAN; their released code): G with 4 hidden layers of 400 ReLU units
and BatchNorm, D with 3 maxout layers of 200 units x 5 pieces, weights N(0, 0.02^2). Their
optimiser is Adam, lr 1e-4, beta1 0.8, batch 100, for 400 epochs of 100,000 samples
(400,000 updates): ``--batch-size 100 --lr 1e-4 --gan-beta1 0.8 --steps 400000``.

Writes into --out: <algo>.png (one panel per snapshot: real points grey, samples
coloured), comparison.png (all algorithms, one row each) and results.json. Prints per
algorithm the modes captured and the share of high-quality samples (PacGAN/VEEGAN
protocol, tinygan.metrics.mode_coverage on 2,500 samples; Gaussian mixtures only).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from _blas import start  # examples/_blas.py: BLAS threads before NumPy loads, tinygan on the path

ALGOS = ("gan", "nsgan", "wgan", "wgan-gp", "lsgan")
ADAM_GANS = ("gan", "nsgan", "lsgan")     # the algorithms --gan-beta1 applies to
ARCHS = ("mlp", "pacgan")
DATASETS = ("ring8", "grid25", "swissroll", "spiral")
NOISE_DIM = 2
N_EVAL = 2500          # samples for mode coverage, as PacGAN/VEEGAN

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="toy_2d.py",
        description="Train GAN variants on a 2-D toy distribution and compare mode coverage.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", choices=DATASETS, default="ring8",
                   help="ring8: 8 Gaussians on the unit circle (std 0.01); grid25: 5x5 "
                        "Gaussians (std 0.05); swissroll, spiral: continuous")
    p.add_argument("--algos", default="nsgan,wgan,wgan-gp",
                   help=f"comma-separated subset of {','.join(ALGOS)} "
                        "(gan: minimax G loss, nsgan: non-saturating)")
    p.add_argument("--steps", type=int, default=2000, help="generator updates per algorithm")
    p.add_argument("--batch-size", type=int, default=256, help="minibatch size m")
    p.add_argument("--width", type=int, default=128,
                   help="hidden units of each of the 3 hidden layers of G and D, --arch mlp only "
                        "(WGAN-GP's toy script: 512)")
    p.add_argument("--arch", choices=ARCHS, default="mlp",
                   help="mlp: 3 hidden ReLU layers of --width for G and D; pacgan: PacGAN's, "
                        "G 4 x 400 ReLU with BatchNorm, D 3 maxout layers of 200 x 5 pieces")
    p.add_argument("--gan-beta1", type=float, default=None,
                   help="beta1 of the Adam of gan, nsgan and lsgan (default: DCGAN's 0.5; "
                        "PacGAN's code: 0.8); WGAN and WGAN-GP keep their papers' optimisers")
    p.add_argument("--lam", type=float, default=0.1,
                   help="WGAN-GP penalty weight (toy script: 0.1)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: each paper's)")
    p.add_argument("--lr-decay", type=float, default=0.0, metavar="F",
                   help="decay both learning rates linearly to 0 over the last fraction F of "
                        "the generator steps (0: constant; 1: over the whole run, as WGAN-GP's "
                        "CIFAR-10 script). A small final lr lets G settle into the narrow modes")
    p.add_argument("--pack", type=int, default=1, metavar="M",
                   help="PacGAN's packing (Lin et al. 2018): D judges M samples concatenated "
                        "(2 M inputs); the batch size must be a multiple of M")
    p.add_argument("--snapshots", type=int, default=5, help="panels per algorithm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=("numpy", "cupy"),
                   default=os.environ.get("TINYGAN_BACKEND", "numpy") or "numpy")
    p.add_argument("--out", default=os.path.join("runs", "toy_2d"), help="output folder")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads: sets OPENBLAS/OMP/MKL_NUM_THREADS before NumPy loads; "
                        "0 leaves BLAS alone. Default: 1, unless one of these variables is "
                        "already set (the matrices are small: one thread is fastest, and on "
                        "a busy 2-core CPU two were 10x slower)")
    return p


def _check_args(p, a):
    algos = [s.strip() for s in a.algos.split(",") if s.strip()]
    bad = [s for s in algos if s not in ALGOS]
    if not algos or bad:
        p.error(f"--algos: unknown {bad or 'empty list'}; choose from {','.join(ALGOS)}")
    if len(set(algos)) != len(algos):
        p.error(f"--algos lists an algorithm twice: {a.algos}")
    for name in ("steps", "batch_size", "width", "snapshots", "pack"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if a.batch_size % a.pack:
        p.error(f"--batch-size {a.batch_size} is not a multiple of --pack {a.pack}")
    if a.snapshots > a.steps:
        p.error(f"--snapshots {a.snapshots} exceeds --steps {a.steps}")
    if not a.lam >= 0:
        p.error(f"--lam must be >= 0, got {a.lam}")
    if not 0.0 <= a.lr_decay <= 1.0:
        p.error(f"--lr-decay must be in [0, 1], got {a.lr_decay}")
    if a.gan_beta1 is not None and not 0.0 <= a.gan_beta1 < 1.0:
        p.error(f"--gan-beta1 must be in [0, 1), got {a.gan_beta1}")
    if a.lr is not None and not a.lr > 0:
        p.error(f"--lr must be > 0, got {a.lr}")
    if a.threads is not None and a.threads < 0:
        p.error(f"--threads must be >= 0, got {a.threads}")
    return algos


def _models(width, rng, pack=1, arch="mlp"):
    from tinygan import models

    if arch == "pacgan":
        return (models.pacgan_toy_generator(NOISE_DIM, out_dim=2, rng=rng),
                models.pacgan_toy_discriminator(2 * pack, rng=rng))
    G = models.mlp_generator(NOISE_DIM, (width,) * 3, 2, activation="relu", rng=rng)
    # G's output layer is tanh by default (images in [-1, 1]); the toy sets live in about
    # [-1, 1]^2 (ring8, swissroll, spiral) but grid25 spans [-4, 4]^2: drop the tanh.
    G.layers.pop()
    D = models.mlp_discriminator(2 * pack, (width,) * 3, activation="relu", rng=rng)
    return G, D


def lr_scale(g_step: int, steps: int, fraction: float) -> float:
    """Learning-rate factor before generator update ``g_step`` (0-based) of ``steps``:
    1 until the last ``fraction`` of the steps, then linear down towards 0,
    (steps - g_step) / (fraction * steps), so the last update still moves a little."""
    if fraction <= 0:
        return 1.0
    return min(1.0, (steps - g_step) / (fraction * steps))


def make_toy_trainer(algo, a):
    """``algo``'s trainer for the options ``a`` (arch, width, pack, seed, lr, lam, gan_beta1),
    its models drawn from seed ``a.seed``."""
    from tinygan import backend
    from tinygan.train import make_trainer

    G, D = _models(a.width, backend.make_rng(a.seed), a.pack, a.arch)
    extra = {"lam": a.lam} if algo == "wgan-gp" else {}
    extra["pack"] = a.pack
    if a.gan_beta1 is not None and algo in ADAM_GANS:
        extra["betas"] = (a.gan_beta1, 0.999)    # beta2 stays Adam's 0.999, as in theirs
    return make_trainer(algo, G, D, noise_dim=NOISE_DIM, lr=a.lr, seed=a.seed, **extra)


def train_one(algo, a, log=print):
    """Train ``algo``; returns (snapshots [(g_step, samples host (n, 2))], final samples
    (N_EVAL, 2) host, seconds, last stats, G's learning rate at the last update)."""
    from tinygan import backend
    from tinygan.data import sample_toy

    trainer = make_toy_trainer(algo, a)
    data_rng = backend.make_rng(a.seed + 1)  # the same real minibatches for every algorithm
    marks = {round(a.steps * (i + 1) / a.snapshots) for i in range(a.snapshots)}
    snapshots, stats = [], {}
    base_lr = (trainer.opt_G.lr, trainer.opt_D.lr)
    t0 = time.perf_counter()
    while trainer.g_steps < a.steps:
        before = trainer.g_steps
        if a.lr_decay > 0:  # both optimisers follow the generator's step count
            scale = lr_scale(trainer.g_steps, a.steps, a.lr_decay)
            trainer.opt_G.lr, trainer.opt_D.lr = base_lr[0] * scale, base_lr[1] * scale
        stats = trainer.step(sample_toy(a.dataset, a.batch_size, data_rng))
        if trainer.g_steps != before and trainer.g_steps in marks:
            snapshots.append((trainer.g_steps, backend.to_numpy(trainer.sample(n=500))))
    seconds = time.perf_counter() - t0
    last = {k: float(v) for k, v in stats.items()}
    final = backend.to_numpy(trainer.sample(n=N_EVAL))
    log(f"  {algo:<8} {seconds:6.1f} s  " + ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
    return snapshots, final, seconds, last, trainer.opt_G.lr


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    algos = _check_args(parser, a)
    start(a.threads)
    from tinygan import backend, metrics, plot
    from tinygan.data import TOY_MODES, sample_toy

    try:
        backend.set_backend(a.backend, seed=a.seed)
    except (RuntimeError, ValueError) as err:
        print(f"toy_2d.py: error: {err}", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    print(f"toy_2d: dataset {a.dataset}, steps {a.steps} (generator updates), "
          f"batch {a.batch_size}, arch {a.arch}, width {a.width}, pack {a.pack}, "
          f"lr decay over the last {a.lr_decay:g}, "
          f"seed {a.seed}, backend {a.backend}")
    real = backend.to_numpy(sample_toy(a.dataset, N_EVAL, backend.make_rng(a.seed + 2)))
    centres, std = TOY_MODES.get(a.dataset, (None, None))

    rows, results = {}, {}
    for algo in algos:
        snapshots, final, seconds, last, final_lr = train_one(algo, a)
        rows[algo] = snapshots
        plot.save_scatter_progression(snapshots, real[:1000], os.path.join(a.out, f"{algo}.png"),
                                      title=algo, centres=centres)
        entry = {"seconds": round(seconds, 2), "final_stats": last,
                 "final_lr_G": final_lr}
        if centres is not None:
            cov = metrics.mode_coverage(final, centres, std)
            entry.update(modes_captured=cov.modes_captured, n_modes=len(centres),
                         high_quality_share=cov.high_quality_share,
                         counts=[int(c) for c in cov.counts])
        results[algo] = entry
    plot.save_scatter_table(rows, real[:1000], os.path.join(a.out, "comparison.png"),
                            centres=centres)

    print(f"\nresults on {a.dataset} (seed {a.seed}, {a.steps} generator steps, {N_EVAL} samples)")
    print(f"{'algorithm':<10} {'modes':>7} {'high quality':>13} {'time (s)':>9}")
    for algo, r in results.items():
        modes = f"{r['modes_captured']}/{r['n_modes']}" if "n_modes" in r else "-"
        share = f"{r['high_quality_share']:.1%}" if "n_modes" in r else "-"
        print(f"{algo:<10} {modes:>7} {share:>13} {r['seconds']:>9.1f}")
    with open(os.path.join(a.out, "results.json.tmp"), "w") as f:
        json.dump({"dataset": a.dataset, "seed": a.seed, "steps": a.steps,
                   "batch_size": a.batch_size, "arch": a.arch, "width": a.width, "lam": a.lam,
                   "pack": a.pack, "gan_beta1": a.gan_beta1,
                   "lr": a.lr, "lr_decay": a.lr_decay,
                   "results": results}, f, indent=2)
    os.replace(os.path.join(a.out, "results.json.tmp"), os.path.join(a.out, "results.json"))
    print(f"pictures: {os.path.join(a.out, 'comparison.png')} and <algo>.png; "
          "numbers: results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
