"""Use a trained generator: sample grid, samples.npy, latent interpolation, PyTorch export.

    python examples/sample.py runs/nsgan-mlp                 # writes into runs/nsgan-mlp/sample/
    python examples/sample.py runs/nsgan-mlp --n 50000 --seed 1 --out my_samples
    python examples/sample.py runs/nsgan-mlp --torch nsgan_mlp_torch.npz

Reads the run's checkpoint.npz (a run folder, or the checkpoint file itself) through
tinygan.trained.load_generator and writes into --out (default RUN/sample):

* grid.png: --grid samples, 10 per row (a conditional run: row i shows digit i);
* samples.npy: --n samples, float32 (N, 784) in [-1, 1], the input of evaluate.py;
* interpolation.png: --rows rows, each G(z) along the line z_t = (1 - t) z_0 + t z_1
  between two noise vectors, t = 0 ... 1 in --steps steps (conditional: row i keeps
  digit i), which shows whether G maps nearby z to nearby digits.
* with --torch FILE: G's and D's weights as a PyTorch state dict (.npz of named arrays,
  keys G.<i>.weight, D.<i>.weight, ...; tinygan.export describes the layouts).

The same --seed gives the same files. Exit status: 0 done, 2 bad input (no checkpoint,
a bad option), 130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys

from _blas import start  # examples/_blas.py: BLAS threads before NumPy loads, tinygan on the path


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="sample.py", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder (holding checkpoint.npz) or a checkpoint file")
    p.add_argument("--out", default=None, help="output folder (default: RUN/sample)")
    p.add_argument("--n", type=int, default=10000,
                   help="samples written to OUT/samples.npy, 0: none (default: 10000)")
    p.add_argument("--grid", type=int, default=100, help="samples in grid.png (default: 100)")
    p.add_argument("--rows", type=int, default=10,
                   help="interpolation rows, 0: no interpolation.png (default: 10)")
    p.add_argument("--steps", type=int, default=10,
                   help="points along each interpolation line, ends included (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default: 0)")
    p.add_argument("--torch", metavar="FILE", default=None,
                   help="also export G and D as a PyTorch state dict (.npz)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=None,
                   help="array backend (default: $TINYGAN_BACKEND, else numpy)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads, set before NumPy loads; 0 leaves BLAS alone (default: "
                        "1, unless OPENBLAS/OMP/MKL_NUM_THREADS is already set)")
    a = p.parse_args(argv)
    for name in ("n", "rows", "seed", "threads"):
        value = getattr(a, name)
        if value is not None and value < 0:
            p.error(f"--{name} must be >= 0, got {value}")
    if a.grid < 1:
        p.error(f"--grid must be >= 1, got {a.grid}")
    if a.steps < 2:
        p.error(f"--steps must be >= 2 (the two ends), got {a.steps}")
    return a


def interpolation(gen, rows: int, steps: int, seed: int):
    """rows x steps images: row i is G((1 - t) z0_i + t z1_i [, digit i]), t = 0 ... 1."""
    import numpy as np

    from tinygan import backend

    xp = backend.get_backend()
    z = gen.sample_noise(2 * rows, seed=seed + 1)
    z0, z1 = z[:rows], z[rows:]
    t = xp.asarray(np.linspace(0.0, 1.0, steps), dtype=z.dtype)[None, :, None]
    line = ((1 - t) * z0[:, None, :] + t * z1[:, None, :]).reshape(rows * steps, -1)
    labels = None
    if gen.n_classes:
        labels = xp.repeat(xp.arange(rows) % gen.n_classes, steps)
    return gen(line, labels)


def main(argv=None) -> int:
    a = parse_args(argv)
    start(a.threads)
    import numpy as np

    from tinygan import backend, plot
    from tinygan.atomic import atomic_open
    from tinygan.checkpoint import CheckpointError
    from tinygan.export import export_run
    from tinygan.trained import load_generator

    def fail(msg: str) -> int:
        print(f"sample.py: error: {msg}", file=sys.stderr)
        return 2

    try:
        if a.backend:
            backend.set_backend(a.backend)
        gen = load_generator(a.run)
    except (FileNotFoundError, CheckpointError, RuntimeError, ValueError, KeyError) as err:
        return fail(str(err).strip("'\""))
    folder = a.run if os.path.isdir(a.run) else os.path.dirname(os.path.abspath(a.run))
    out = a.out or os.path.join(folder, "sample")
    kind = f"conditional, {gen.n_classes} classes" if gen.n_classes else "unconditional"
    print(f"generator of {a.run}: {gen.run.get('arch', '?')}, {kind}, latent dimension "
          f"{gen.input_dim}, trained {gen.epoch} epoch(s)")
    try:
        nrow = 10
        labels = None
        if gen.n_classes:  # row i shows digit i
            nrow = max(1, a.grid // gen.n_classes)
            labels = np.repeat(np.arange(gen.n_classes), nrow)[:a.grid]
        grid = gen.sample(len(labels) if labels is not None else a.grid, labels, seed=a.seed)
        print("grid:          " + plot.save_sample_grid(grid, os.path.join(out, "grid.png"),
                                                        nrow=nrow, value_range=gen.value_range))
        if a.n:
            z = gen.sample_noise(a.n, seed=a.seed)
            x = np.concatenate([gen(z[i:i + 1000], None if not gen.n_classes else
                                    np.arange(i, min(i + 1000, a.n)) % gen.n_classes)
                                for i in range(0, a.n, 1000)])
            path = os.path.join(out, "samples.npy")
            with atomic_open(path, "wb") as f:
                np.save(f, x, allow_pickle=False)
            print(f"samples:       {path} ({a.n} x 784 float32 in [{gen.value_range[0]}, "
                  f"{gen.value_range[1]}])")
        if a.rows:
            images = interpolation(gen, a.rows, a.steps, a.seed)
            path = os.path.join(out, "interpolation.png")
            print("interpolation: " + plot.save_sample_grid(images, path, nrow=a.steps,
                                                            value_range=gen.value_range))
        if a.torch:
            state = export_run(a.run, a.torch)
            print(f"torch export:  {a.torch} ({len(state)} arrays: G.<i>.weight, D.<i>.weight, "
                  "...)")
    except KeyboardInterrupt:
        print("\nsample.py: interrupted", file=sys.stderr)
        return 130
    except (CheckpointError, ValueError) as err:
        return fail(str(err))
    return 0


if __name__ == "__main__":
    sys.exit(main())
