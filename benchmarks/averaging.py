"""The average of G's weights against G's own, on MNIST: FID at generator-step marks for
several decays beta at once, over seeds.

    python benchmarks/averaging.py --algos nsgan,cgan --seeds 0,1,2 --steps 2342,4685 \
        --betas 0.99,0.995,0.999 --dir runs/averaging --out benchmarks/averaging.md

Each cell trains as ``examples/mnist_gan.py --loss L [--conditional] [--arch A] --seed N
--ema 0`` does with the ``default`` recipe (``quality.build_cell``) and keeps, beside the
trainer, one exponential moving average of G's weights per beta
(``tinygan.optim.ExponentialAverage``,
theta_bar <- beta theta_bar + (1 - beta) theta after each G update, from theta_bar_0 =
theta_0). An average changes no training step, so one run scores every beta: at each mark
the FID of G's own weights ("none") and of each average as the trainer would draw from it
(a BatchNorm generator's with statistics of its own), each from the same
``--n-samples`` noise draws (``quality.eval_samples``, FID on tinygan's MNIST classifier
against the test digits). "CPU s" is the CPU time of the trainer's steps alone, not of
the averages' updates. A cell's results go to DIR/<algo>/seed<N>.json (DIR/dcgan/... for
``--arch dcgan``; atomically) when
it ends; a finished cell is not trained again. Mean +- standard error over seeds in the
table.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np

from quality import ALGOS, ARCHS, build_cell, evaluate   # benchmarks/ is the script's folder
from recipe_ablation import cpu_model, write_atomic


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", default="nsgan,cgan",
                   help=f"comma-separated subset of {','.join(ALGOS)} (sngan: dcgan only)")
    p.add_argument("--arch", choices=ARCHS, default="mlp",
                   help="the models, as mnist_gan.py --arch (default: mlp)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    p.add_argument("--steps", default="2342,4685", help="generator-step marks")
    p.add_argument("--betas", default="0.99,0.995,0.999", help="decays of the averages")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate of G and D (default: the recipe's)")
    p.add_argument("--clip", type=float, default=None, metavar="C",
                   help="wgan's clipping bound (default: the recipe's; 0.01 reproduces the "
                        "study made before the default was 0.02)")
    p.add_argument("--n-samples", type=int, default=10000, help="samples per FID")
    p.add_argument("--train-subset", type=int, default=None,
                   help="train on the first N MNIST training digits (quick runs)")
    p.add_argument("--dir", default="runs/averaging", help="where cells are kept")
    p.add_argument("--out", default=None, help="markdown table (default: print only)")
    a = p.parse_args(argv)
    try:
        a.algos = [s.strip() for s in a.algos.split(",") if s.strip()]
        a.seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
        a.steps = sorted({int(s) for s in a.steps.split(",") if s.strip()})
        a.betas = sorted({float(s) for s in a.betas.split(",") if s.strip()})
    except ValueError as err:
        p.error(f"--seeds, --steps and --betas take comma-separated numbers ({err})")
    unknown = [s for s in a.algos if s not in ALGOS or (s == "sngan" and a.arch != "dcgan")]
    if unknown or not a.algos:
        p.error(f"unknown algorithm(s) {unknown} for --arch {a.arch}; choose from {list(ALGOS)} "
                "(sngan with dcgan only)")
    if not a.seeds or min(a.seeds) < 0 or not a.steps or a.steps[0] < 1:
        p.error("--seeds must be >= 0 and --steps >= 1, at least one of each")
    if not a.betas or not all(0 < b < 1 for b in a.betas):
        p.error(f"--betas must be in (0, 1), got {a.betas}")
    if a.lr is not None and not a.lr > 0:
        p.error(f"--lr must be > 0, got {a.lr}")
    if a.clip is not None and not a.clip > 0:
        p.error(f"--clip must be > 0, got {a.clip}")
    if a.n_samples < 2 or (a.train_subset is not None and a.train_subset < 2):
        p.error("--n-samples and --train-subset must be >= 2")
    return a


def run_cell(algo: str, seed: int, x, y, a, log=print) -> dict:
    """Train one cell to the last mark; {"points": [{"g_steps", "cpu_s", "none", "<beta>"...}]}."""
    from tinygan import backend
    from tinygan.optim import ExponentialAverage

    backend.set_backend("numpy", seed=seed)
    trainer, batches = build_cell(algo, a.arch, seed, x, y, ema=0.0,   # the averages are ours
                                  lr=a.lr, clip=a.clip)
    averages = {b: ExponentialAverage(trainer.G.parameters(), b) for b in a.betas}
    marks, points, cpu = list(a.steps), [], 0.0
    while marks:
        for xb, yb in batches.epoch():
            t0 = time.process_time()
            g_steps = trainer.g_steps
            trainer.step(xb, yb if trainer.conditional else None)
            cpu += time.process_time() - t0
            if trainer.g_steps != g_steps:
                for average in averages.values():
                    average.step()
            if trainer.g_steps < marks[0]:
                continue
            point = {"g_steps": trainer.g_steps, "cpu_s": cpu,
                     "none": evaluate(trainer, a.n_samples, averaged=False)["fid"]}
            for beta, average in averages.items():
                point[str(beta)] = fid_of_average(trainer, average, a.n_samples)
            points.append(point)
            log(f"  {algo} seed {seed}: " + ", ".join(
                f"{k} {v:.1f}" for k, v in point.items() if k not in ("g_steps",)))
            marks.pop(0)
            if not marks:
                break
    return {"algo": algo, "arch": a.arch, "seed": seed, "recipe": "default", "lr": trainer.opt_G.lr,
            "clip": trainer.config.get("clip"),
            "betas": a.betas,
            "batch_size": batches.batch_size, "points": points}


def fid_of_average(trainer, average, n: int) -> float:
    """FID of samples drawn from ``average`` as the trainer draws from its own average
    (with a BatchNorm generator, under the average's own statistics,
    ``Trainer.average_statistics``)."""
    trainer.ema_G = average
    try:
        return evaluate(trainer, n, averaged=True)["fid"]
    finally:
        trainer.ema_G = None


def cell_setting(algo: str, a, key: str):
    """The ``lr`` or ``clip`` a cell of ``algo`` trains with: --lr / --clip, else the
    default recipe's, else the paper's; ``clip`` is None but for wgan."""
    from tinygan.train import DEFAULTS, recipe

    loss = ALGOS[algo][0]
    if key == "clip" and loss != "wgan":
        return None
    given = getattr(a, key)
    return given if given is not None else recipe(loss, arch=a.arch).get(key, DEFAULTS[loss][key])


def markdown(cells: list, a, command: str) -> str:
    cols = ["none"] + [str(b) for b in a.betas]
    lines = [f"Command: `{command}`", "",
             f"CPU: {cpu_model()}; one BLAS thread; {a.n_samples} samples per FID (tinygan's "
             "MNIST classifier, against the test digits). Cells: mean +- standard error over "
             "seeds (their count in brackets when not all ran). 'none': G's own weights; a "
             "beta: the average of G's weights with that decay.", "",
             f"| algorithm ({a.arch}) | G steps | CPU s | " + " | ".join(
                 "G's weights" if c == "none" else f"beta {c}" for c in cols) + " |",
             "|---|---:|---:|" + "---:|" * len(cols)]
    for algo in a.algos:
        runs = [c for c in cells if c["algo"] == algo]
        for step in a.steps:
            pts = [p for c in runs for p in c["points"] if p["g_steps"] == step]
            if not pts:
                continue
            row = [algo, str(step), f"{np.mean([p['cpu_s'] for p in pts]):.0f}"]
            for c in cols:
                v = np.array([p[c] for p in pts if c in p])
                text = f"{v.mean():.1f}"
                if len(v) > 1:
                    text += f" +- {v.std(ddof=1) / np.sqrt(len(v)):.1f}"
                if len(v) != len(a.seeds):
                    text += f" ({len(v)})"
                row.append(text)
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    a = parse_args(argv)
    command = "python benchmarks/averaging.py " + " ".join(
        shlex.quote(s) for s in (sys.argv[1:] if argv is None else argv))
    from tinygan.data import load_mnist

    x, y = load_mnist("train", flatten=(a.arch == "mlp"))
    if a.train_subset:
        x, y = x[:a.train_subset], y[:a.train_subset]
    cells = []
    for seed in a.seeds:
        for algo in a.algos:
            path = os.path.join(a.dir, *([] if a.arch == "mlp" else [a.arch]), algo,
                                f"seed{seed}.json")
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    cell = json.load(f)
                if (cell["betas"] == a.betas and cell.get("lr") == cell_setting(algo, a, "lr")
                        and cell.get("clip", 0.01 if algo == "wgan" else None)   # 0.01: before
                        == cell_setting(algo, a, "clip")
                        and cell.get("arch", "mlp") == a.arch
                        and [p["g_steps"] for p in cell["points"]] == a.steps):
                    cells.append(cell)
                    continue
            print(f"{algo} seed {seed}: marks {a.steps}, betas {a.betas}", flush=True)
            cell = run_cell(algo, seed, x, y, a)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, json.dumps(cell, indent=1))
            cells.append(cell)
    table = markdown(cells, a, command)
    print(table)
    if a.out:
        write_atomic(a.out, table)
        print(f"written: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
