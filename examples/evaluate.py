"""Evaluate MNIST samples with every tinygan metric, beside the figures of real data.

    python examples/evaluate.py runs/nsgan            # reads runs/nsgan/samples.npy
    python examples/evaluate.py samples.npy --no-parzen
    python examples/evaluate.py runs/goodfellow --value-range 0 1   # a sigmoid G's samples

The samples are an (N, 784) or (N, 1, 28, 28) float array in [-1, 1] (what
examples/mnist_gan.py writes with --n-samples; in [0, 1] for --arch goodfellow, given with
--value-range 0 1). Printed: FID and the Inception-style
score on the features of tinygan's own MNIST classifier (shipped with the package: every
user's figures come from the same network, SHA-256 checked), k-NN precision and recall
(k = 3) against the test digits, and
Goodfellow et al.'s Parzen-window log-likelihood of the test set (sigma chosen on 1,000
validation digits). The reference column evaluates 10,000 real training digits the same
way: what a perfect generator would score with as many samples.
Definitions: docs/derivations.md, "Evaluation metrics".

Exit status: 0 done, 2 bad input (missing or malformed samples, a bad option, missing
MNIST files), 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from _blas import start  # examples/_blas.py: BLAS threads before NumPy loads, tinygan on the path

ROWS = (  # (label, key, std-key or None, format)
    ("FID (classifier features, vs test)", "fid", None, "{:.3f}"),
    ("Inception-style score (max 10)", "inception_score", "inception_score_std", "{:.3f}"),
    ("precision (k=3)", "precision", None, "{:.3f}"),
    ("recall (k=3)", "recall", None, "{:.3f}"),
    ("Parzen log-likelihood (nats)", "parzen_log_likelihood", "parzen_std_error", "{:.1f}"),
    ("Parzen sigma", "parzen_sigma", None, "{:.3f}"),
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("samples", help="a run folder holding samples.npy, or a .npy file")
    p.add_argument("--n", type=int, default=10000,
                   help="use the first N samples (default 10000, as in the Parzen protocol)")
    p.add_argument("--no-parzen", action="store_true", help="skip the Parzen window (the slowest)")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the real-data column (cached after its first computation)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--value-range", nargs=2, type=float, default=(-1.0, 1.0),
                   metavar=("LOW", "HIGH"),
                   help="the samples' pixel range: -1 1 (tanh generators) or 0 1 (sigmoid)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=None,
                   help="array backend (default: $TINYGAN_BACKEND or numpy)")
    p.add_argument("--classifier", metavar="FILE", default=None,
                   help="weights written by `python -m tinygan.classifier --out FILE` instead "
                        "of the shipped classifier (figures then differ from everyone else's)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads, set before NumPy loads; 0 leaves BLAS alone (default: "
                        "1, unless OPENBLAS/OMP/MKL_NUM_THREADS is already set)")
    a = p.parse_args(argv)
    if a.n < 2:
        p.error(f"--n must be >= 2, got {a.n}")
    if a.threads is not None and a.threads < 0:
        p.error(f"--threads must be >= 0, got {a.threads}")
    return a


class BadInput(Exception):
    """Input the script cannot use; main prints it as one line and exits with 2."""


def load_samples(path: str, n: int, value_range=(-1.0, 1.0)):
    """(N, 784) float32 in [-1, 1] (the metrics' range) from DIR/samples.npy or a .npy
    file holding samples in ``value_range``; BadInput otherwise."""
    import numpy as np

    low, high = (float(v) for v in value_range)
    if (low, high) not in ((-1.0, 1.0), (0.0, 1.0)):
        raise BadInput(f"--value-range must be -1 1 or 0 1, got {low:g} {high:g}")
    if os.path.isdir(path):
        path = os.path.join(path, "samples.npy")
    if not os.path.isfile(path):
        raise BadInput(f"no samples at {path} (expected DIR/samples.npy or a .npy file; "
                       "examples/mnist_gan.py writes one with --n-samples)")
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise BadInput(f"{path}: not a readable .npy array ({err})") from err
    if x.ndim == 4 and x.shape[1:] == (1, 28, 28):
        x = x.reshape(len(x), 784)
    if x.ndim != 2 or x.shape[1] != 784:
        raise BadInput(f"{path} holds an array of shape {x.shape}; expected (N, 784) "
                       "or (N, 1, 28, 28) MNIST images in [-1, 1]")
    if not np.isfinite(x).all():
        raise BadInput(f"{path} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < low - 0.01 or hi > high + 0.01:
        print(f"warning: samples range over [{lo:.2f}, {hi:.2f}], not [{low:g}, {high:g}]",
              file=sys.stderr)
    x = x[:n].astype(np.float32)
    return 2 * x - 1 if low == 0 else x


def format_value(result: dict, key: str, std_key, fmt: str) -> str:
    if key not in result:
        return "-"
    text = fmt.format(result[key])
    if std_key and std_key in result:
        text += " +- " + fmt.format(result[std_key])
    return text


def table(result: dict, reference: dict | None, name: str) -> str:
    """Markdown table: one row per metric, the samples' figure and the real-data one."""
    head = f"| metric | {name} |" + (" real (10k MNIST train) |" if reference else "")
    rule = "|---|---:|" + ("---:|" if reference else "")
    lines = [head, rule]
    for label, key, std_key, fmt in ROWS:
        if key not in result and (reference is None or key not in reference):
            continue
        row = f"| {label} | {format_value(result, key, std_key, fmt)} |"
        if reference:
            row += f" {format_value(reference, key, std_key, fmt)} |"
        lines.append(row)
    return "\n".join(lines)


def main(argv=None) -> int:
    a = parse_args(argv)
    start(a.threads)
    try:
        return evaluate(a)
    except KeyboardInterrupt:
        print("\nevaluate.py: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BadInput as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2


def evaluate(a) -> int:
    from tinygan import backend, metrics
    from tinygan.classifier import load_classifier
    from tinygan.data import MNISTFormatError, MNISTNotFoundError

    if a.backend:
        backend.set_backend(a.backend)
    x = load_samples(a.samples, a.n, a.value_range)
    print(f"{len(x)} samples from {a.samples}", flush=True)
    try:
        clf = load_classifier(a.classifier)
    except (FileNotFoundError, ValueError) as err:  # a missing or foreign weights file
        raise BadInput(str(err)) from err
    t0 = time.perf_counter()
    try:
        result = metrics.evaluate_mnist(x, classifier=clf, parzen=not a.no_parzen)
        print(f"evaluated in {time.perf_counter() - t0:.1f} s", flush=True)
        reference = None
        if not a.no_reference:
            t0 = time.perf_counter()
            reference = metrics.reference_mnist(classifier=clf, parzen=not a.no_parzen)
            print(f"reference figures in {time.perf_counter() - t0:.1f} s")
    except (MNISTNotFoundError, MNISTFormatError) as err:
        raise BadInput(str(err)) from err
    print()
    print(table(result, reference, os.path.basename(os.path.normpath(a.samples))))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"samples": result, "reference": reference}, f, indent=1, sort_keys=True)
        print(f"\nwritten: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
