"""Recipe ablation for every loss on the MNIST MLPs: one recipe choice at a time.

    python benchmarks/recipe_ablation.py --cpu-seconds 60 --seeds 0 --dir /work/runs/ablation \
        --out docs/recipe_ablation.md
    python benchmarks/recipe_ablation.py --g-steps 2000 --seeds 0,1,2 --configs wgan/base,wgan/warmup
    python benchmarks/recipe_ablation.py --list

Every cell starts from the base setting of its loss (the paper's algorithm box, as
``tinygan.train.DEFAULTS`` gives it, minibatch 64, the MLPs of ``tinygan.models``) and
switches on ONE choice (``CONFIGS``: the source of each is named there and in the table).
Each cell trains for the same budget, either ``--cpu-seconds`` of this process's CPU time
(``time.process_time``: with one BLAS thread it counts the work done, not the time other
programs held the CPU, so cells stay comparable on a shared machine) or ``--g-steps``
generator updates, then writes ``--n-samples`` samples and their FID on tinygan's MNIST
classifier (``tinygan.metrics.fid``, against the test digits).

Cells are resumable: DIR/<loss>/<choice>/seed<N>/result.json is written atomically when a
cell ends and a finished cell is not retrained (its FID is recomputed only when the
classifier's weights file changed). The markdown table (mean over seeds, and the
standard error when there are several) goes to ``--out`` after each cell.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import time

import numpy as np

# name -> (loss, trainer overrides, extra settings, source). Extra settings: "batch_size",
# "init" (redraw every Linear weight N(0, 0.02^2)), "critic" ("conv": Gulrajani et al.'s
# MNIST conv critic behind a reshape of the flat digits).
CONFIGS = {
    "wgan/base": ("wgan", {}, {},
                  "Arjovsky et al. 2017, Alg. 1: RMSProp alpha 5e-5, c 0.01, n_critic 5, m 64"),
    "wgan/warmup": ("wgan", {"warmup": True}, {},
                    "WassersteinGAN main.py: 100 critic steps for the first 25 G steps "
                    "and every 500th"),
    "wgan/lr2e-4": ("wgan", {"lr": 2e-4}, {}, "exploration: 4x the paper's alpha"),
    "wgan/adam": ("wgan", {"optimizer": "adam", "betas": (0.5, 0.999), "lr": 1e-4}, {},
                  "WassersteinGAN main.py --adam (beta1 0.5, beta2 0.999), lr 1e-4"),
    "wgan/ncritic2": ("wgan", {"n_critic": 2}, {}, "exploration: n_critic 2"),
    "wgan/batch50": ("wgan", {}, {"batch_size": 50}, "gan_mnist.py: BATCH_SIZE 50"),
    "wgan/init0.02": ("wgan", {}, {"init": "normal"}, "WassersteinGAN main.py weights_init: "
                      "N(0, 0.02^2)"),
    "wgan-gp/base": ("wgan-gp", {}, {},
                     "Gulrajani et al. 2017, Alg. 1: Adam 1e-4, (0, 0.9), lambda 10, "
                     "n_critic 5, m 64"),
    "wgan-gp/beta1=0.5": ("wgan-gp", {"betas": (0.5, 0.9)}, {},
                          "gan_mnist.py: Adam beta1 0.5, beta2 0.9"),
    "wgan-gp/batch50": ("wgan-gp", {}, {"batch_size": 50}, "gan_mnist.py: BATCH_SIZE 50"),
    "wgan-gp/lr2e-4": ("wgan-gp", {"lr": 2e-4}, {}, "exploration: 2x the paper's alpha"),
    "wgan-gp/ncritic2": ("wgan-gp", {"n_critic": 2}, {}, "exploration: n_critic 2"),
    "wgan-gp/init0.02": ("wgan-gp", {}, {"init": "normal"}, "DCGAN-style N(0, 0.02^2) weights"),
    "wgan-gp/conv-critic": ("wgan-gp", {}, {"critic": "conv"},
                            "gan_mnist.py: conv critic 64-128-256, 5x5 stride 2, LeakyReLU"),
    "nsgan/base": ("nsgan", {}, {},
                   "Goodfellow et al. 2014's non-saturating loss, k 1; Radford et al. 2016's "
                   "Adam 2e-4, (0.5, 0.999); m 64"),
    "nsgan/lr5e-4": ("nsgan", {"lr": 5e-4}, {}, "exploration: 2.5x DCGAN's lr, both networks"),
    "nsgan/lr3e-4": ("nsgan", {"lr": 3e-4}, {}, "exploration: 1.5x DCGAN's lr, both networks"),
    "nsgan/lr7e-4": ("nsgan", {"lr": 7e-4}, {}, "exploration: 3.5x DCGAN's lr, both networks"),
    "nsgan/lr1e-3": ("nsgan", {"lr": 1e-3}, {}, "exploration: 5x DCGAN's lr, both networks"),
    "nsgan/ttur": ("nsgan", {"lr_D": 4e-4, "lr_G": 1e-4}, {},
                   "Heusel et al. 2017 (TTUR): D 4e-4, G 1e-4"),
    "nsgan/g5x": ("nsgan", {"lr_G": 1e-3, "lr_D": 2e-4}, {},
                  "InfoGAN's MNIST run (Chen et al. 2016, authors' code): G 1e-3, D 2e-4"),
    "gan/base": ("gan", {}, {}, "Goodfellow et al. 2014's minimax loss, k 1; Radford et al. "
                 "2016's Adam 2e-4, (0.5, 0.999); m 64"),
    "gan/lr2.5e-4": ("gan", {"lr": 2.5e-4}, {}, "exploration: 1.25x DCGAN's lr, both networks"),
    "gan/lr3e-4": ("gan", {"lr": 3e-4}, {}, "exploration: 1.5x DCGAN's lr, both networks"),
    "gan/lr5e-4": ("gan", {"lr": 5e-4}, {}, "exploration: 2.5x DCGAN's lr, both networks"),
    "lsgan/base": ("lsgan", {}, {}, "Mao et al. 2017, a 0, b 1, c 1; Adam 2e-4, (0.5, 0.999); "
                   "m 64"),
    "lsgan/lr5e-4": ("lsgan", {"lr": 5e-4}, {}, "exploration: 2.5x DCGAN's lr, both networks"),
    "lsgan/lr1e-3": ("lsgan", {"lr": 1e-3}, {}, "exploration: 5x DCGAN's lr, both networks"),
    "lsgan/lr7e-4": ("lsgan", {"lr": 7e-4}, {}, "exploration: 3.5x DCGAN's lr, both networks"),
    "wgan-gp/lr5e-4": ("wgan-gp", {"lr": 5e-4}, {}, "exploration: 5x the paper's alpha"),
    "wgan/lr5e-4": ("wgan", {"lr": 5e-4}, {}, "exploration: 10x the paper's alpha"),
    **{f"{loss}/ema": (loss, {"ema": 0.995}, {},
                       "Yazici et al. 2019: samples from the average of G's weights, beta "
                       "0.995 (tinygan's default)")
       for loss in ("gan", "nsgan", "lsgan", "wgan", "wgan-gp")},
    "lsgan/lr2e-3": ("lsgan", {"lr": 2e-3}, {}, "exploration: 10x DCGAN's lr, both networks"),
    **{f"wgan/clip{c}": ("wgan", {"clip": c}, {},
                         f"exploration: clipping bound c {c} (the paper's: 0.01)")
       for c in (0.005, 0.02, 0.03, 0.05)},
    "gan/g1.5x": ("gan", {"lr_G": 3e-4, "lr_D": 2e-4}, {},
                  "exploration: G 3e-4, D DCGAN's 2e-4 (a larger step for G alone)"),
    "gan/d0.5x": ("gan", {"lr_G": 2e-4, "lr_D": 1e-4}, {},
                  "exploration: G DCGAN's 2e-4, D 1e-4 (a smaller step for D alone)"),
}
INIT_STD = 0.02


def lookup(name: str):
    """CONFIGS[name], or for ``loss/a+b+...`` the switches a, b, ... of that loss together
    (their overrides and settings merged; a later switch wins). KeyError if unknown."""
    if name in CONFIGS:
        return CONFIGS[name]
    loss, _, switches = name.partition("/")
    parts = [CONFIGS[f"{loss}/{switch}"] for switch in switches.split("+")]
    overrides, extra = {}, {}
    for _, o, e, _ in parts:
        overrides.update(o)
        extra.update(e)
    return loss, overrides, extra, " + ".join(p[3] for p in parts)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--cpu-seconds", type=float, default=None,
                        help="training budget per cell in CPU seconds of this process (default 60)")
    budget.add_argument("--g-steps", type=int, default=None,
                        help="training budget per cell in generator updates")
    p.add_argument("--configs", default=",".join(CONFIGS),
                   help="comma-separated cells (default: all; --list shows them); switches of "
                        "one loss joined by '+' train together, e.g. wgan-gp/lr2e-4+ncritic2")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    p.add_argument("--n-samples", type=int, default=10000, help="samples per cell for the FID")
    p.add_argument("--train-subset", type=int, default=None,
                   help="train on the first N MNIST training digits (quick runs)")
    p.add_argument("--dir", default="runs/recipe_ablation", help="where cells are kept")
    p.add_argument("--out", default=None, help="markdown table (default: print only)")
    p.add_argument("--list", action="store_true", help="list the cells and their sources")
    a = p.parse_args(argv)
    if a.cpu_seconds is None and a.g_steps is None:
        a.cpu_seconds = 60.0
    a.configs = [s.strip() for s in a.configs.split(",") if s.strip()]
    unknown = []
    for name in a.configs:
        try:
            lookup(name)
        except KeyError:
            unknown.append(name)
    if unknown:
        p.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}, or join switches "
                "of one loss with '+' (e.g. wgan-gp/lr2e-4+ncritic2)")
    try:
        a.seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds must be comma-separated integers, got {a.seeds!r}")
    if not a.seeds or min(a.seeds) < 0:
        p.error(f"--seeds must name at least one seed >= 0, got {a.seeds}")
    if a.cpu_seconds is not None and not a.cpu_seconds > 0:
        p.error(f"--cpu-seconds must be > 0, got {a.cpu_seconds}")
    for name in ("g_steps", "n_samples", "train_subset"):
        value = getattr(a, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    return a


def build_models(extra: dict, rng):
    """The MLP pair, with the cell's critic and initialisation."""
    from tinygan import models, nn
    from tinygan.nn.init import init_weight

    G = models.mlp_generator(rng=rng)
    if extra.get("critic") == "conv":   # the conv critic reads (m, 1, 28, 28) images
        D = nn.Sequential(nn.Reshape((1, 28, 28)), *models.wgangp_conv_critic(rng=rng).layers)
    else:
        D = models.mlp_discriminator(rng=rng)
    if extra.get("init") == "normal":
        for net in (G, D):
            for layer in net.layers:
                if isinstance(layer, nn.Linear):
                    w = layer.params["W"]
                    w[...] = init_weight(w.shape, layer.n_in, layer.n_out, "normal", INIT_STD, rng)
    return G, D


def train_cell(name: str, seed: int, x, a, log=print):
    """Train one cell for the budget; returns its trainer and a dict of figures."""
    from tinygan import backend
    from tinygan.data import Minibatches
    from tinygan.loop import TrainingDiverged
    from tinygan.train import make_trainer

    loss, overrides, extra, _ = lookup(name)
    backend.manual_seed(seed)
    G, D = build_models(extra, backend.make_rng(seed))
    overrides = dict(overrides)
    lr = overrides.pop("lr", None)
    trainer = make_trainer(loss, G, D, lr=lr, seed=seed, **overrides)
    batches = Minibatches(x, None, batch_size=extra.get("batch_size", 64), seed=seed)
    cpu0, wall0 = time.process_time(), time.perf_counter()

    def spent() -> bool:
        if a.g_steps is not None:
            return trainer.g_steps >= a.g_steps
        return trainer.d_steps % 10 == 0 and time.process_time() - cpu0 >= a.cpu_seconds

    def report(stats) -> None:   # a host sync: once per epoch and at the end
        d_loss = float(stats["d_loss"])
        if not np.isfinite(d_loss):
            raise TrainingDiverged(f"{name} seed {seed}: critic loss {d_loss}")
        log(f"  {name} seed {seed}: D steps {trainer.d_steps}, G steps {trainer.g_steps}, "
            f"d_loss {d_loss:.4f}, {time.process_time() - cpu0:.0f} CPU s, "
            f"{time.perf_counter() - wall0:.0f} s")

    stats = None
    while stats is None or not spent():
        for xb, _ in batches.epoch():
            stats = trainer.step(xb)
            if spent():
                break
        report(stats)
    return trainer, {"cpu_seconds": time.process_time() - cpu0,
                     "wall_seconds": time.perf_counter() - wall0,
                     "g_steps": trainer.g_steps, "d_steps": trainer.d_steps,
                     "epochs": trainer.d_steps / len(batches),
                     "batch_size": batches.batch_size}


def classifier_id() -> str:
    """SHA-256 (first 16 hex) of the classifier weights the metrics load."""
    from tinygan import classifier

    path = classifier.weights_path()
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def evaluate(samples_path: str) -> float:
    from tinygan import metrics

    return float(metrics.fid(np.load(samples_path, allow_pickle=False)))


def budget_text(a) -> str:
    if a.g_steps is not None:
        return f"{a.g_steps} generator steps"
    return f"{a.cpu_seconds:g} CPU seconds of training (one BLAS thread)"


def markdown(results: dict, a, command: str) -> str:
    seeds = ", ".join(str(s) for s in a.seeds)
    lines = [
        "| loss | choice switched on | source | FID | G steps | epochs | CPU s | wall s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in a.configs:
        runs = [results[(name, s)] for s in a.seeds if (name, s) in results]
        if not runs:
            continue
        loss, choice = name.split("/", 1)
        fids = np.array([r["fid"] for r in runs])
        fid = f"{fids.mean():.1f}"
        if len(fids) > 1:
            fid += f" +- {fids.std(ddof=1) / np.sqrt(len(fids)):.1f}"

        def mean(key, spec):
            return spec.format(np.mean([r[key] for r in runs]))

        lines.append(f"| {loss} | {choice} | {lookup(name)[3]} | {fid} | "
                     f"{mean('g_steps', '{:.0f}')} | {mean('epochs', '{:.2f}')} | "
                     f"{mean('cpu_seconds', '{:.0f}')} | {mean('wall_seconds', '{:.0f}')} |")
    head = [f"Command: `{command}`", "",
            f"Budget per cell: {budget_text(a)}; seed(s) {seeds}; {a.n_samples} samples, FID on "
            "tinygan's MNIST classifier against the test digits; "
            f"{'first ' + str(a.train_subset) if a.train_subset else '60,000'} MNIST training "
            f"digits. CPU: {cpu_model()}, load when the table "
            f"was written: {os.getloadavg()[0]:.1f} (1-minute average).", ""]
    return "\n".join(head + lines) + "\n"


def cpu_model() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_atomic(path: str, text: str) -> None:
    from tinygan.atomic import atomic_open

    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.list:
        for name, (_, _, _, source) in CONFIGS.items():
            print(f"{name:<22} {source}")
        return 0
    from tinygan import loop
    from tinygan.data import load_mnist

    command = "python benchmarks/recipe_ablation.py " + " ".join(
        shlex.quote(s) for s in (sys.argv[1:] if argv is None else argv))
    x, _ = load_mnist("train")
    if a.train_subset:
        x = x[:a.train_subset]
    clf = classifier_id()
    budget = {"cpu_seconds": a.cpu_seconds, "g_steps": a.g_steps, "train_subset": a.train_subset,
              "n_samples": a.n_samples}
    results = {}
    for name in a.configs:
        for seed in a.seeds:
            cell = os.path.join(a.dir, name, f"seed{seed}")
            path = os.path.join(cell, "result.json")
            result = None
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    result = json.load(f)
                if result.get("budget") != budget:
                    raise SystemExit(f"recipe_ablation.py: {path} was run with budget "
                                     f"{result.get('budget')}, not {budget}; use another --dir")
            if result is None:
                print(f"{name} seed {seed}: training ({budget_text(a)})", flush=True)
                trainer, result = train_cell(name, seed, x, a)
                loop.save_samples(trainer, a.n_samples, os.path.join(cell, "samples.npy"))
                result["budget"] = budget
            if result.get("classifier") != clf:
                result["fid"] = evaluate(os.path.join(cell, "samples.npy"))
                result["classifier"] = clf
                write_atomic(path, json.dumps(result, indent=1, sort_keys=True))
            print(f"  {name} seed {seed}: FID {result['fid']:.2f}", flush=True)
            results[(name, seed)] = result
            if a.out:
                write_atomic(a.out, markdown(results, a, command))
    print()
    print(markdown(results, a, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
