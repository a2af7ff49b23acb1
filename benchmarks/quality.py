"""Sample quality of every tinygan loss on MNIST: learning curves, compared at equal
generator steps and at equal training time, over several seeds.

    python benchmarks/quality.py --seeds 0,1,2 --steps 500,1000,2342,4685 \
        --seconds 30,60,120,200 --dir runs/quality
    python benchmarks/quality.py --arch dcgan --algos nsgan --seeds 0,1,2 \
        --steps 1000,2300,2500 --seconds 130,260,420 --dir runs/quality
    python benchmarks/quality.py --report --dir runs/quality --out benchmarks/quality.md \
        --figure docs/quality_curves.png          # tables and figure from saved results only

One training run per (architecture, algorithm, seed), a *cell*, set up exactly as
``python examples/mnist_gan.py --loss L [--conditional] [--arch A] --seed N`` sets up its
run (models, minibatches, trainer, the ``default`` recipe unless ``--recipe`` names
another), so a cell's grid at the default budget is that command's last grid. The
algorithms (``ALGOS``): gan (minimax), nsgan (non-saturating), wgan, wgan-gp, lsgan,
cgan (the non-saturating GAN conditioned on the digit), and with ``--arch dcgan`` sngan
(the non-saturating GAN with SN-GAN's spectrally normalised discriminator,
``--spectral-norm``).

A cell stops at *marks* and evaluates its generator there: after ``--steps`` generator
updates (equal generator steps) and once its training has used ``--seconds`` CPU seconds
(equal training time). Training time is ``time.process_time`` of this process, counted
over the training steps only (not evaluation, checkpoints or pictures): with one BLAS
thread it is the work done, about what an idle core takes, and it does not grow when
other programs share the CPU. Each evaluation draws ``--n-samples`` samples (the cGAN's
balanced over the digits) from a fixed noise stream and scores their FID on tinygan's
MNIST classifier against the test digits (``tinygan.metrics.fid``), and scores a second,
independent draw too (``fid_b``): the two measure the evaluation's own noise. At step
marks it also writes the grid of ``examples/mnist_gan.py``'s fixed noise
(``grid_gNNNNN.png``).

Cells are checkpointed at every mark (DIR/<arch>/<algo>/seed<N>/checkpoint.npz, atomic;
the curve so far is in its meta and in curve.json): a stopped study continues where it
was, and a cell asked for later marks continues from its last one. Sampling never draws
from the training random streams, so a resumed or extended cell trains bit-identically
(NumPy) to an uninterrupted one. ``--report`` reads every cell under DIR and writes the
tables (markdown, ``--out``) and the learning-curve figure (``--figure``) without training.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np

from recipe_ablation import cpu_model, write_atomic   # benchmarks/ is the script's folder
from tinygan.train import RECIPE_NAMES

ALGOS = {  # name -> (loss for make_trainer, conditional)
    "gan": ("gan", False),
    "nsgan": ("nsgan", False),
    "wgan": ("wgan", False),
    "wgan-gp": ("wgan-gp", False),
    "lsgan": ("lsgan", False),
    "cgan": ("nsgan", True),
    "sngan": ("nsgan", False),   # --arch dcgan only: --spectral-norm's discriminator (SN-GAN)
}
ARCHS = ("mlp", "dcgan")
NOISE_DIM, N_CLASSES = 100, 10        # examples/mnist_gan.py's
CURVE_NAME, CHECKPOINT = "curve.json", "checkpoint.npz"
_FORMAT = "tinygan.quality/1"
# derived_seed streams of the two evaluation draws (never a training stream)
EVAL_STREAMS = (101, 102)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", default=None,
                   help=f"comma-separated subset of {','.join(ALGOS)} (default: all that "
                        "the architecture has; sngan is dcgan's only)")
    p.add_argument("--arch", choices=ARCHS, default="mlp")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--steps", default="250,500,1000,2342,4685",
                   help="generator-step marks (2342 and 4685: the G steps of the default 5 "
                        "epochs of wgan/wgan-gp and of the other losses; default: %(default)s)")
    p.add_argument("--seconds", default="",
                   help="training CPU-second marks, e.g. 15,30,60 (default: none); a cell "
                        "reaches only those within its last step mark")
    p.add_argument("--n-samples", type=int, default=10000, help="samples per FID (default 10000)")
    p.add_argument("--train-subset", type=int, default=None,
                   help="train on the first N MNIST training digits (quick runs)")
    p.add_argument("--dir", default="runs/quality", help="where cells are kept")
    p.add_argument("--report", action="store_true",
                   help="no training: tables and figure from the cells under --dir")
    p.add_argument("--out", default=None, help="markdown tables (default: print only)")
    p.add_argument("--figure", default=None, help="learning-curve PNG")
    p.add_argument("--recipe", choices=RECIPE_NAMES, default="default",
                   help="the cells' named setting (tinygan.train.recipe; default: default, as "
                        "examples/mnist_gan.py); a cell saved with another setting is refused")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate of G and D, as mnist_gan.py --lr (default: the "
                        "recipe's; the recipe's of the time reproduces a study made before "
                        "the recipe changed)")
    p.add_argument("--ema", type=float, default=None, metavar="BETA",
                   help="the average of G's weights the cells sample from (as mnist_gan.py "
                        "--ema; 0: G's own weights, as every cell before tinygan kept an "
                        "average; default: the recipe's)")
    p.add_argument("--clip", type=float, default=None, metavar="C",
                   help="wgan's clipping bound, as mnist_gan.py --clip (default: the "
                        "recipe's; 0.01 reproduces a study made before the default was 0.02)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    a = p.parse_args(argv)
    a.algos = ([s.strip() for s in a.algos.split(",") if s.strip()] if a.algos is not None
               else [s for s in ALGOS if a.arch == "dcgan" or s != "sngan"])
    unknown = [s for s in a.algos if s not in ALGOS]
    if unknown:
        p.error(f"unknown algorithm(s) {unknown}; choose from {list(ALGOS)}")
    if "sngan" in a.algos and a.arch != "dcgan":
        p.error("sngan is the DCGAN discriminator spectrally normalised: give --arch dcgan")
    try:
        a.seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
        a.steps = sorted({int(s) for s in a.steps.split(",") if s.strip()})
        a.seconds = sorted({float(s) for s in a.seconds.split(",") if s.strip()})
    except ValueError as err:
        p.error(f"--seeds, --steps and --seconds take comma-separated numbers ({err})")
    if not a.seeds or min(a.seeds) < 0:
        p.error(f"--seeds must name at least one seed >= 0, got {a.seeds}")
    if not a.report and (not a.steps or a.steps[0] < 1):
        p.error(f"--steps must name at least one mark >= 1, got {a.steps}")
    if a.ema is not None and not 0 <= a.ema < 1:
        p.error(f"--ema must be in [0, 1), got {a.ema}")
    if a.lr is not None and not a.lr > 0:
        p.error(f"--lr must be > 0, got {a.lr}")
    if a.clip is not None and not a.clip > 0:
        p.error(f"--clip must be > 0, got {a.clip}")
    if a.seconds and a.seconds[0] <= 0:
        p.error(f"--seconds marks must be > 0, got {a.seconds}")
    for name in ("n_samples", "train_subset"):
        value = getattr(a, name)
        if value is not None and value < 2:
            p.error(f"--{name.replace('_', '-')} must be >= 2, got {value}")
    return a


# -- one cell ---------------------------------------------------------------------------
def build_cell(algo: str, arch: str, seed: int, x, y, recipe_name: str = "default", ema=None,
               lr=None, clip=None):
    """(trainer, minibatches) as ``examples/mnist_gan.py --loss L --arch A --seed N
    --recipe R [--ema BETA] [--lr LR] [--clip C]`` builds them (tinygan.train.recipe;
    ``ema``, ``lr`` and ``clip`` None: the recipe's; ``clip`` applies to wgan only)."""
    from tinygan import backend, runs
    from tinygan.data import Minibatches
    from tinygan.train import make_trainer, recipe

    loss, conditional = ALGOS[algo]
    run = {"loss": loss, "arch": arch, "conditional": conditional, "seed": seed,
           "noise_dim": NOISE_DIM, "n_classes": N_CLASSES, "spectral_norm": algo == "sngan"}
    G, D = runs.build_models(run, backend.make_rng(seed), x=x)
    options = recipe(loss, recipe_name, arch)
    batch_size, recipe_lr = options.pop("batch_size"), options.pop("lr", None)
    lr = recipe_lr if lr is None else lr
    if ema is not None:
        options["ema"] = ema
    if clip is not None and loss == "wgan":
        options["clip"] = clip
    trainer = make_trainer(loss, G, D, noise_dim=NOISE_DIM, conditional=conditional,
                           n_classes=N_CLASSES, lr=lr, seed=seed, **options)
    return trainer, Minibatches(x, y if conditional else None, batch_size=batch_size, seed=seed)


def eval_samples(trainer, n: int, stream: int, batch: int = 1000, averaged: bool = True):
    """``n`` samples (host float32, (n, 784)) from noise of the stream (trainer.seed,
    ``stream``): the same z at every mark, never the training generators; the
    conditional trainer's labels are i mod n_classes. ``averaged``: from the average of
    G's weights when the trainer keeps one (``trainer.sample``)."""
    from tinygan import backend

    rng = backend.make_rng(backend.derived_seed(trainer.seed, stream))
    xp, out = backend.get_backend(), []
    for start in range(0, n, batch):
        m = min(batch, n - start)
        y = (xp.arange(start, start + m, dtype=xp.int64) % trainer.n_classes
             if trainer.conditional else None)
        z = trainer.sample_noise(m, rng=rng)
        out.append(backend.to_numpy(trainer.sample(z=z, y=y, averaged=averaged)).reshape(m, -1))
    return np.concatenate(out)


def evaluate(trainer, n: int, averaged: bool = True) -> dict:
    """FID of two independent draws of ``n`` samples, and the CPU seconds it took."""
    from tinygan import metrics

    t0 = time.process_time()
    fids = []
    for stream in EVAL_STREAMS:
        samples = eval_samples(trainer, n, stream, averaged=averaged)
        fids.append(float(metrics.fid(samples)) if np.isfinite(samples).all() else float("nan"))
    return {"fid": fids[0], "fid_b": fids[1], "eval_cpu_s": time.process_time() - t0}


def save_grid(trainer, path: str) -> None:
    """The grid examples/mnist_gan.py draws after each epoch (tinygan.plot.EpochPictures)."""
    from tinygan import plot

    z, y = plot.fixed_inputs(trainer)
    nrow = max(1, z.shape[0] // trainer.n_classes) if trainer.conditional else 10
    plot.save_sample_grid(trainer.sample(z=z, y=y), path, nrow=nrow)


def cell_dir(root: str, arch: str, algo: str, seed: int) -> str:
    return os.path.join(root, arch, algo, f"seed{seed}")


def _save_cell(folder, trainer, batches, curve):
    from tinygan import checkpoint
    from tinygan.atomic import atomic_open

    arrays = {"trainer." + k: v for k, v in trainer.state_dict().items()}
    meta = {"format": _FORMAT, "trainer": trainer.meta(), "batches": batches.state_dict(),
            "curve": curve}
    checkpoint.save(os.path.join(folder, CHECKPOINT), arrays, meta)
    with atomic_open(os.path.join(folder, CURVE_NAME), "w", encoding="utf-8") as f:
        json.dump(curve, f, indent=1)


def _load_cell(folder, trainer, batches) -> dict:
    from tinygan import checkpoint

    arrays, meta = checkpoint.load(os.path.join(folder, CHECKPOINT))
    if meta.get("format") != _FORMAT:
        raise checkpoint.CheckpointError(f"{folder}: not a benchmarks/quality.py cell")
    trainer.load_state_dict({k[len("trainer."):]: v for k, v in arrays.items()},
                            meta["trainer"])
    batches.load_state_dict(meta["batches"])
    return meta["curve"]


def run_cell(algo, arch, seed, x, y, a, command: str, log=None) -> dict:
    """Train one cell through its marks (continuing its checkpoint); returns its curve:
    {"config": ..., "points": [{"mark": "steps"|"seconds", "at": ..., "g_steps", "d_steps",
    "epochs", "cpu_s", "wall_s", "fid", "fid_b", "eval_cpu_s", "load"}, ...], ...}."""
    from tinygan import backend, classifier

    log = log or (lambda msg: print(msg, flush=True))
    folder = cell_dir(a.dir, arch, algo, seed)
    os.makedirs(folder, exist_ok=True)
    backend.set_backend(a.backend, seed=seed)
    trainer, batches = build_cell(algo, arch, seed, x, y, a.recipe, a.ema, a.lr, a.clip)
    config = {"algo": algo, "loss": ALGOS[algo][0], "conditional": ALGOS[algo][1], "arch": arch,
              "seed": seed, "recipe": a.recipe, "batch_size": batches.batch_size,
              "train_subset": a.train_subset, "n_samples": a.n_samples,
              "classifier_sha256": classifier.SHIPPED_SHA256, "trainer": trainer.config}
    config = json.loads(json.dumps(config))   # tuples -> lists, as they come back from JSON
    if os.path.isfile(os.path.join(folder, CHECKPOINT)):
        curve = _load_cell(folder, trainer, batches)
        if curve["config"] != config:
            raise SystemExit(f"quality.py: {folder} holds a cell with another setting "
                             f"({curve['config']}, not {config}); use another --dir")
    else:
        curve = {"config": config, "points": [], "cpu_s": 0.0, "wall_s": 0.0, "commands": []}
    if curve.get("diverged"):
        return curve
    done = {(p["mark"], p["at"]) for p in curve["points"]}
    last_step = a.steps[-1]
    steps = [s for s in a.steps if ("steps", s) not in done and s > trainer.g_steps]
    seconds = [t for t in a.seconds if ("seconds", t) not in done and t > curve["cpu_s"]]
    if not steps:
        return curve
    if command not in curve["commands"]:
        curve["commands"].append(command)
    cpu_base, wall_base = curve["cpu_s"], curve["wall_s"]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    conditional = trainer.conditional
    stats = None
    while steps:
        for xb, yb in batches.epoch():
            stats = trainer.step(xb, yb if conditional else None)
            cpu = cpu_base + time.process_time() - cpu0
            hit_step = trainer.g_steps >= steps[0]
            hit_time = bool(seconds) and cpu >= seconds[0] and trainer.g_steps < last_step
            if not (hit_step or hit_time):
                continue
            curve["cpu_s"], curve["wall_s"] = cpu, wall_base + time.perf_counter() - wall0
            d_loss = float(stats["d_loss"])
            point = {"g_steps": trainer.g_steps, "d_steps": trainer.d_steps,
                     "epochs": trainer.d_steps / len(batches), "cpu_s": cpu,
                     "wall_s": curve["wall_s"], "d_loss": d_loss,
                     "load": os.getloadavg()[0]}
            marks = []
            if hit_step:
                marks.append(("steps", steps.pop(0)))
                save_grid(trainer, os.path.join(folder, f"grid_g{trainer.g_steps:05d}.png"))
            while seconds and cpu >= seconds[0]:
                marks.append(("seconds", seconds.pop(0)))
            if np.isfinite(d_loss):
                point.update(evaluate(trainer, a.n_samples))
            else:
                curve["diverged"] = {"g_steps": trainer.g_steps, "d_loss": d_loss}
                point.update(fid=float("nan"), fid_b=float("nan"), eval_cpu_s=0.0)
            for kind, at in marks:
                curve["points"].append({"mark": kind, "at": at, **point})
                log(f"  {arch} {algo} seed {seed}: {kind} mark {at:g}: G steps {trainer.g_steps}, "
                    f"{cpu:.1f} CPU s, FID {point['fid']:.2f} ({point['fid_b']:.2f})")
            _save_cell(folder, trainer, batches, curve)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            cpu_base, wall_base = curve["cpu_s"], curve["wall_s"]
            if curve.get("diverged") or not steps:
                return curve
    return curve


# -- the tables and the figure ---------------------------------------------------------
def load_cells(root: str) -> list[dict]:
    """Every cell's curve under ``root`` (DIR/<arch>/<algo>/seed<N>/curve.json)."""
    cells = []
    for arch in ARCHS:
        for algo in ALGOS:
            folder = os.path.join(root, arch, algo)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name, CURVE_NAME)
                if name.startswith("seed") and os.path.isfile(path):
                    with open(path, encoding="utf-8") as f:
                        cells.append(json.load(f))
    return cells


def series(cells: list[dict]) -> dict:
    """{(arch, algo): {(mark kind, at): [point per seed]}} of the evaluated points."""
    out: dict = {}
    for cell in cells:
        key = (cell["config"]["arch"], cell["config"]["algo"])
        for p in cell["points"]:
            out.setdefault(key, {}).setdefault((p["mark"], p["at"]), []).append(p)
    return out


def mean_se(values) -> tuple[float, float, int]:
    """Mean, standard error (0 for one value) and count of the finite ``values``."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), se, int(v.size)


def _cell_text(points) -> str:
    m, se, n = mean_se([p["fid"] for p in points])
    if n == 0:
        return "diverged"
    text = f"{m:.1f} +- {se:.1f}" if n > 1 else f"{m:.1f}"
    return text + (f" ({n})" if n != 3 else "")


def _label(arch: str, algo: str) -> str:
    return algo if arch == "mlp" else f"{algo} ({arch})"


def eval_noise(cells) -> tuple[float, int]:
    """SD of one FID from its sampling alone, sqrt(mean((fid - fid_b)^2) / 2) over every
    evaluated point, and the number of points."""
    d = [p["fid"] - p["fid_b"] for c in cells for p in c["points"]
         if np.isfinite(p["fid"]) and np.isfinite(p["fid_b"])]
    if not d:
        return float("nan"), 0
    return float(np.sqrt(np.mean(np.square(d)) / 2)), len(d)


def markdown(cells: list[dict], command: str) -> str:
    s = series(cells)
    lines = ["# Sample quality on MNIST: every loss at equal generator steps and equal time", "",
             f"Tables written by `{command}` from the saved cells. Cells trained by:", ""]
    commands = sorted({c for cell in cells for c in cell.get("commands", [])})
    lines += [f"    {c}" for c in commands] + [""]
    loads = [p["load"] for c in cells for p in c["points"]]
    recipes = " / ".join(f"`{r}`" for r in sorted({c["config"]["recipe"] for c in cells}))
    sd, n_pairs = eval_noise(cells)
    lines += [
        f"CPU: {cpu_model()}; one BLAS thread per cell. Load average (1 minute) at the "
        f"evaluations: {min(loads):.1f} to {max(loads):.1f}. FID: tinygan's MNIST classifier "
        "features (the shipped weights), samples against the 10,000 test digits; cells "
        "are mean +- standard error over seeds (the count in brackets when it is not 3). "
        f"Each cell is set up as `examples/mnist_gan.py` sets up its run with the {recipes} "
        "recipe; training time is the CPU time (`time.process_time`) of the training "
        "steps alone, without evaluation and checkpoints. "
        f"The FID's own sampling noise, from two independent draws at each of {n_pairs} "
        f"evaluated points: SD {sd:.2f}.", ""]
    for arch in ARCHS:
        keys = [k for k in s if k[0] == arch]
        if not keys:
            continue
        algos = [a for a in ALGOS if (arch, a) in s]
        steps = sorted({at for k in keys for kind, at in s[k] if kind == "steps"})
        secs = sorted({at for k in keys for kind, at in s[k] if kind == "seconds"})
        lines += [f"### {arch}: FID at equal generator steps", "",
                  "| algorithm | " + " | ".join(f"{g} G steps" for g in steps) + " | CPU ms per G step |",
                  "|---|" + "---:|" * (len(steps) + 1)]
        for algo in algos:
            pts = s[(arch, algo)]
            cells_ = [_cell_text(pts[("steps", g)]) if ("steps", g) in pts else "-" for g in steps]
            rate = [p["cpu_s"] / p["g_steps"] for ps in pts.values() for p in ps
                    if p["g_steps"]]                    # every mark after the first G step
            ms = f"{1000 * np.mean(rate):.0f}" if rate else "-"
            lines.append(f"| {algo} | " + " | ".join(cells_) + f" | {ms} |")
        lines.append("")
        if secs:
            lines += [f"### {arch}: FID at equal training time (CPU seconds)", "",
                      "| algorithm | " + " | ".join(f"{t:g} s" for t in secs) + " |",
                      "|---|" + "---:|" * len(secs)]
            for algo in algos:
                pts = s[(arch, algo)]
                row = []
                for t in secs:
                    if ("seconds", t) not in pts:
                        row.append("-")
                        continue
                    g = np.mean([p["g_steps"] for p in pts[("seconds", t)]])
                    row.append(f"{_cell_text(pts[('seconds', t)])}, {g:.0f} G steps")
                lines.append(f"| {algo} | " + " | ".join(row) + " |")
            lines.append("")
    diverged = [c for c in cells if c.get("diverged")]
    for c in diverged:
        cfg = c["config"]
        lines.append(f"Diverged: {cfg['arch']} {cfg['algo']} seed {cfg['seed']} at G step "
                     f"{c['diverged']['g_steps']} (critic/discriminator loss "
                     f"{c['diverged']['d_loss']}).")
    return "\n".join(lines) + "\n"


def figure(cells: list[dict], path: str) -> str:
    """FID against generator steps and against training CPU seconds, one line per
    (architecture, algorithm), error bars the standard error over seeds."""
    from tinygan import plot

    by_steps, by_time = [], []
    for (arch, algo), pts in series(cells).items():
        label = _label(arch, algo)
        for lines, rows, x_of in (
                (by_steps, [ps for (kind, _), ps in pts.items() if kind == "steps"],
                 lambda ps: ps[0]["at"]),
                (by_time, list(pts.values()), lambda ps: np.mean([p["cpu_s"] for p in ps]))):
            rows = sorted(rows, key=x_of)
            stats = [(x_of(ps), *mean_se([p["fid"] for p in ps])) for ps in rows]
            stats = [row for row in stats if row[3] > 0]
            if stats:
                x, m, se, _ = zip(*stats)
                lines.append((label, x, m, se))
    return plot.save_metric_panels(
        [("generator steps", "FID at equal generator steps", by_steps),
         ("training CPU seconds (one BLAS thread)", "FID at equal training time", by_time)],
        path, ylabel="FID (tinygan's MNIST classifier)")


def main(argv=None) -> int:
    a = parse_args(argv)
    command = "python benchmarks/quality.py " + " ".join(
        shlex.quote(s) for s in (sys.argv[1:] if argv is None else argv))
    if not a.report:
        from tinygan.data import load_mnist

        x, y = load_mnist("train", flatten=(a.arch == "mlp"))
        if a.train_subset:
            x, y = x[:a.train_subset], y[:a.train_subset]
        for seed in a.seeds:
            for algo in a.algos:
                print(f"{a.arch} {algo} seed {seed}: marks {a.steps} G steps, "
                      f"{a.seconds} CPU s", flush=True)
                run_cell(algo, a.arch, seed, x, y, a, command)
    cells = load_cells(a.dir)
    if not cells:
        print(f"quality.py: no cells under {a.dir}", file=sys.stderr)
        return 1
    table = markdown(cells, command)
    print(table)
    if a.out:
        write_atomic(a.out, table)
        print(f"written: {a.out}")
    if a.figure:
        print(f"written: {figure(cells, a.figure)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
