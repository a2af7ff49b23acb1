"""Sample quality of GAN, WGAN, WGAN-GP, LSGAN and cGAN on MNIST under one fixed budget.

    python benchmarks/quality.py --epochs 20 --out benchmarks/quality.md
    python benchmarks/quality.py --minutes 30 --algos nsgan,wgan-gp --out q.md
    python benchmarks/quality.py --epochs 1 --train-subset 2000 --n-samples 1000 --out tiny.md

Every algorithm trains the same MLP pair (models.mlp_generator / mlp_discriminator,
the cGAN one with the label joined to both inputs) with its paper defaults
(tinygan.train.make_trainer), minibatch 64, fixed seeds, for the same budget: ``--epochs``
passes over the data (equal discriminator / critic steps; WGAN and WGAN-GP then make a
fifth as many generator steps) or ``--minutes`` of training wall-clock each. Then
``--n-samples`` samples (default 10,000, the Parzen protocol) are saved as
DIR/<algo>/samples.npy and evaluated with tinygan.metrics.evaluate_mnist: FID and the
Inception-style score on tinygan's MNIST classifier, k-NN precision/recall, Parzen
log-likelihood. A markdown table with the command line goes to ``--out``.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

import numpy as np

ALGOS = {  # name -> (loss for make_trainer, conditional)
    "nsgan": ("nsgan", False),
    "wgan": ("wgan", False),
    "wgan-gp": ("wgan-gp", False),
    "lsgan": ("lsgan", False),
    "cgan": ("nsgan", True),
}
COLUMNS = (  # header, key, std key, format
    ("FID", "fid", None, "{:.2f}"),
    ("IS", "inception_score", "inception_score_std", "{:.2f}"),
    ("precision", "precision", None, "{:.3f}"),
    ("recall", "recall", None, "{:.3f}"),
    ("Parzen LL", "parzen_log_likelihood", "parzen_std_error", "{:.1f}"),
)


#: Goodfellow et al. 2014, Table 1: MNIST Parzen log-likelihood of their (MLP) GAN, in nats
PAPER_PARZEN = "225 +- 2"
PARZEN_NOTE = (
    "Parzen caveats: the bandwidth is chosen on train[50000:51000] as in the authors' code, "
    "but the authors trained on train[:50000] while these models saw all 60,000 training "
    "digits, so the validation digits were also training digits. Parzen estimates in 784 "
    "dimensions are a poor proxy for likelihood (Theis et al. 2016, \"A note on the "
    "evaluation of generative models\"): the figure rewards samples near test digits and is "
    "noisy; compare rows with it only as a rough guide.")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, default=None, help="epochs per algorithm (default 20)")
    budget.add_argument("--minutes", type=float, default=None,
                        help="training wall-clock per algorithm, in minutes")
    p.add_argument("--algos", default=",".join(ALGOS),
                   help=f"comma-separated subset of {','.join(ALGOS)} (default: all)")
    p.add_argument("--n-samples", type=int, default=10000, help="samples per algorithm (default 10000)")
    p.add_argument("--train-subset", type=int, default=None,
                   help="train on the first N MNIST training digits (quick runs)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-parzen", action="store_true", help="skip the Parzen log-likelihood")
    p.add_argument("--dir", default="runs/quality", help="where samples go (DIR/<algo>/samples.npy)")
    p.add_argument("--out", default=None, help="markdown table file (default: print only)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=None)
    a = p.parse_args(argv)
    if a.epochs is None and a.minutes is None:
        a.epochs = 20
    a.algos = [s.strip() for s in a.algos.split(",") if s.strip()]
    unknown = [s for s in a.algos if s not in ALGOS]
    if unknown:
        p.error(f"unknown algorithm(s) {unknown}; choose from {list(ALGOS)}")
    for name in ("epochs", "n_samples", "train_subset", "batch_size"):
        value = getattr(a, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if a.minutes is not None and a.minutes <= 0:
        p.error(f"--minutes must be positive, got {a.minutes}")
    return a


def train_one(name: str, x, y, a, log=print):
    """Train one algorithm for the budget; returns (trainer, epochs run (a float: the
    minutes budget can stop mid-epoch), seconds)."""
    from tinygan import models
    from tinygan.data import Minibatches
    from tinygan.loop import TrainingDiverged
    from tinygan.train import make_trainer

    loss, conditional = ALGOS[name]
    n_classes = 10 if conditional else 0
    G = models.mlp_generator(n_classes=n_classes)
    D = models.mlp_discriminator(n_classes=n_classes)
    trainer = make_trainer(loss, G, D, conditional=conditional, n_classes=10, seed=a.seed)
    batches = Minibatches(x, y if conditional else None, batch_size=a.batch_size, seed=a.seed)
    deadline = None if a.minutes is None else time.perf_counter() + 60 * a.minutes
    start, epoch, out_of_time = time.perf_counter(), 0, False
    while not out_of_time and (a.epochs is None or epoch < a.epochs):
        for i, (xb, yb) in enumerate(batches.epoch()):
            stats = trainer.step(xb, yb)
            if deadline is not None and i % 20 == 0 and time.perf_counter() > deadline:
                out_of_time = True
                break
        epoch += 1
        d_loss = float(stats["d_loss"])  # one host sync per epoch
        if not np.isfinite(d_loss):
            raise TrainingDiverged(f"{name}: discriminator loss {d_loss} after epoch {epoch}")
        log(f"  {name}: epoch {epoch}, D steps {trainer.d_steps}, G steps {trainer.g_steps}, "
            f"d_loss {d_loss:.4f} ({time.perf_counter() - start:.0f} s)")
    return trainer, trainer.d_steps / len(batches), time.perf_counter() - start


def fmt(result: dict, key: str, std_key, spec: str) -> str:
    if key not in result:
        return "-"
    text = spec.format(result[key])
    return text + (" +- " + spec.format(result[std_key]) if std_key and std_key in result else "")


def markdown(rows, reference, a, command: str) -> str:
    budget = f"{a.epochs} epoch(s)" if a.minutes is None else f"{a.minutes:g} minute(s)"
    data = f"first {a.train_subset} MNIST training digits" if a.train_subset else "MNIST train (60,000)"
    lines = [
        "# Sample quality on MNIST (MLP models)", "",
        f"Command: `{command}`", "",
        f"Budget {budget} per algorithm on {data}, minibatch {a.batch_size}, seed {a.seed}; "
        f"{a.n_samples} samples each. FID and IS on tinygan's MNIST classifier features "
        "(tinygan.classifier), precision/recall k = 3 vs the test digits, Parzen "
        "log-likelihood of the 10,000 test digits (nats, sigma chosen on 1,000 validation "
        "digits). Real data: the same number of MNIST training digits. train s / eval s: "
        "wall-clock seconds of training and of evaluation (all metrics) per algorithm.", "",
        "| algorithm | epochs | G steps | train s | eval s | " + " | ".join(c[0] for c in COLUMNS) + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(COLUMNS),
    ]
    for name, epochs, g_steps, seconds, eval_seconds, result in rows:
        cells = [fmt(result, *c[1:]) for c in COLUMNS]
        lines.append(f"| {name} | {epochs:.2f} | {g_steps} | {seconds:.0f} | {eval_seconds:.0f} | "
                     + " | ".join(cells) + " |")
    if reference is not None:
        cells = [fmt(reference, *c[1:]) for c in COLUMNS]
        lines.append("| real data | - | - | - | - | " + " | ".join(cells) + " |")
    if not a.no_parzen:
        cells = ["-"] * (len(COLUMNS) - 1) + [PAPER_PARZEN]
        lines.append("| GAN, Goodfellow et al. 2014, Table 1 | - | - | - | - | " + " | ".join(cells) + " |")
        lines += ["", PARZEN_NOTE]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    a = parse_args(argv)
    from tinygan import backend, loop, metrics
    from tinygan.data import load_mnist

    if a.backend:
        backend.set_backend(a.backend, seed=a.seed)
    else:
        backend.manual_seed(a.seed)
    command = "python " + " ".join(shlex.quote(s) for s in [os.path.relpath(__file__)] + sys.argv[1:]) \
        if argv is None else "python benchmarks/quality.py " + " ".join(shlex.quote(s) for s in argv)
    x, y = load_mnist("train")
    if a.train_subset:
        x, y = x[:a.train_subset], y[:a.train_subset]
    rows = []
    for name in a.algos:
        print(f"{name}: training ({ALGOS[name][0]}{', conditional' if ALGOS[name][1] else ''})")
        backend.manual_seed(a.seed)  # same initial weights draw for every algorithm
        trainer, epochs, seconds = train_one(name, x, y, a)
        path = loop.save_samples(trainer, a.n_samples, os.path.join(a.dir, name, "samples.npy"))
        t0 = time.perf_counter()
        result = metrics.evaluate_mnist(np.load(path, allow_pickle=False), parzen=not a.no_parzen)
        print(f"  {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in result.items())
              + f" (evaluated in {time.perf_counter() - t0:.0f} s)")
        rows.append((name, epochs, trainer.g_steps, seconds, time.perf_counter() - t0, result))
        if a.out:  # the table so far, so a long run that is stopped keeps its finished rows
            write_atomic(a.out, markdown(rows, None, a, command))
    reference = metrics.reference_mnist(n=min(a.n_samples, 50000), parzen=not a.no_parzen)
    table = markdown(rows, reference, a, command)
    print()
    print(table)
    if a.out:
        write_atomic(a.out, table)
        print(f"written: {a.out}")
    return 0


def write_atomic(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
