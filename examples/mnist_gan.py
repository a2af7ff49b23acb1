"""Train a GAN on MNIST with tinygan: the main example.

    python examples/mnist_gan.py                          # non-saturating GAN, MLPs, defaults
    python examples/mnist_gan.py --loss wgan-gp --arch dcgan --epochs 10
    python examples/mnist_gan.py --loss wgan --recipe paper   # Arjovsky et al.'s Alg. 1 as printed
    python examples/mnist_gan.py --conditional            # cGAN: one grid row per digit
    python examples/mnist_gan.py --arch dcgan --spectral-norm   # SN-GAN's discriminator
    python examples/mnist_gan.py --loss infogan --code-accuracy # InfoGAN, codes vs digits
    python examples/mnist_gan.py --resume --epochs 10     # continue runs/nsgan-mlp to epoch 10
    python examples/mnist_gan.py --resume --lr 1e-4       # continue with a smaller learning rate
    python examples/mnist_gan.py --limit 1024 --epochs 1  # a quick smoke run
    python examples/mnist_gan.py --arch goodfellow --epochs 100 --parzen-every 2
                                  # Goodfellow et al. 2014's own MNIST recipe (mnist.yaml)

Writes into --out (default runs/<loss>-<arch>[-sn][-cond]): samples_epoch_NNN.png (a grid from
a fixed noise batch after each epoch), losses.png, checkpoint.npz (atomic, at each epoch
end; --resume continues from it), config.json (the run's options, a copy of those the
checkpoint holds, with each change made on --resume and the epoch it took effect), and at
the end samples.npy: --n-samples generated digits, float32, shape (N, 784), values in
[-1, 1] ([0, 1] for --arch goodfellow), for tinygan.metrics. With --parzen-every N,
parzen.jsonl gets one line per N epochs: the Parzen-window log-likelihood of the test
set, the authors' protocol. A folder that holds a run is never written into without
--resume (continue it) or --overwrite (replace it).

MNIST is read from --data-dir when given (it must hold the files), else looked up in
$TINYGAN_DATA/mnist, ~/.cache/tinygan/mnist, and downloaded (SHA-256 checked) when
missing unless --no-download is given. The files used are printed.

Exit status: 0 done, 1 training diverged (NaN/inf; the last good checkpoint is kept),
2 bad arguments, missing/corrupt data or an unusable backend, 130 interrupted (Ctrl-C;
the checkpoint of the last finished epoch is kept).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from _blas import start  # examples/_blas.py: BLAS threads before NumPy loads, tinygan on the path

LOSSES = ("gan", "nsgan", "wgan", "wgan-gp", "lsgan", "infogan")
N_CAT, N_CONT = 10, 2    # InfoGAN's codes: one 10-way categorical, two continuous (Chen 2016)
ARCHS = ("mlp", "dcgan", "goodfellow", "infogan")   # tinygan.runs.ARCHS (a test keeps them equal)
NOISE_DIM = 100
N_CLASSES = 10
# Default epochs, chosen from measured time (docs, "Examples and options"): the MLP
# non-saturating GAN took 63-87 s per epoch on a shared 2-core CPU with one BLAS thread
# (up to 160 s when the machine was busier), so 5 epochs take 6-10 minutes; digits are
# recognisable from epoch 3.
DEFAULT_EPOCHS = 5
# Options a new run takes when not given; a resumed run keeps its own instead.
DEFAULTS = {"loss": "nsgan", "arch": "mlp", "conditional": False, "spectral_norm": False,
            "recipe": "default", "seed": 0, "epochs": DEFAULT_EPOCHS, "log_every": 50,
            "n_samples": 10000}


# tinygan.train.RECIPE_NAMES, spelled out so --help needs no NumPy (a test keeps them equal)
RECIPES = ("default", "paper", "authors")


def _recipe_help() -> str:
    return ("named setting of the trainer and minibatch (explicit --lr, --n-critic, --clip, "
            "--batch-size, --ema override it). paper: each paper's algorithm box (for wgan "
            "Arjovsky et al. 2017, Alg. 1: RMSProp 5e-5, clip 0.01, n_critic 5, m 64; for wgan-gp "
            "Gulrajani et al. 2017, Alg. 1: Adam 1e-4, betas (0, 0.9), lambda 10, n_critic 5, "
            "m 64). authors: the authors' released code (wgan: the paper's box plus the critic "
            "warm-up of WassersteinGAN main.py, 100 critic updates for the first 25 and every "
            "500th G update; wgan-gp: gan_mnist.py's Adam betas (0.5, 0.9) and m 50). default: "
            "tinygan's, the setting that measured best on the MLPs (docs/recipes.md): "
            + DEFAULT_RECIPE_TEXT + "; with --arch dcgan it is the paper's but for nsgan (and the "
            "conditional GAN): Adam 2e-3, and for wgan-gp: Adam 1e-3 with n_critic 2, both "
            "with G's own weights, as measured there. gan trains "
            "with its "
            "paper's setting in every recipe, and paper and authors give nsgan and lsgan "
            "theirs (Adam 2e-4, (0.5, 0.999)); the papers keep no average of G's weights")


# What --recipe default changes from the paper's box, per loss (docs/recipes.md).
DEFAULT_RECIPE_TEXT = ("for wgan the paper's box with lr 2e-4, n_critic 2 and clip 0.02 (RMSProp), "
                       "for wgan-gp with lr 5e-4 and n_critic 2 (Adam betas (0, 0.9), lambda 10); "
                       "for nsgan (and the conditional GAN) Adam 5e-4 and for lsgan 7e-4 instead "
                       "of 2e-4; "
                       "for every loss but infogan, samples drawn from the average of G's "
                       "weights, --ema 0.995")

# Goodfellow et al. 2014's MNIST run, from their code's mnist.yaml (goodfeli/adversarial):
# everything --arch goodfellow brings along (docs/design-notes.md, "Goodfellow et al.'s
# MNIST recipe", lists each value's yaml line and where tinygan differs).
GOODFELLOW = {
    "batch_size": 100,             # SGD batch_size: 100
    "lr": 0.1,                     # learning_rate: .1
    "momentum": (0.5, 0.7, 1, 250),  # Momentum init_momentum .5; MomentumAdjustor start 1,
                                   # saturate 250, final_momentum .7
    "lr_decay": (1.000004, 1e-6),  # ExponentialDecay decay_factor 1.000004, min_lr .000001
    "noise": "uniform_sqrt3",      # Generator noise: 'uniform' = U(-sqrt 3, sqrt 3)
    "train": slice(0, 50000),      # MNIST which_set 'train', start 0, stop 50000
    "valid": slice(50000, 60000),  # monitoring 'valid': start 50000, stop 60000
    "d_loss_scale": 0.5,           # AdversaryCost2: d_obj = 0.5 (cost real + cost fake)
}

# Chen et al. 2016's MNIST run, from their code's launchers/run_mnist_exp.py (openai/InfoGAN):
# everything --arch infogan brings along besides its networks (tinygan.models).
INFOGAN = {
    "batch_size": 128,             # batch_size = 128
    "lr": 2e-4,                    # discriminator_learning_rate=2e-4 (D and Q)
    "g_lr_factor": 5.0,            # generator_learning_rate=1e-3: 5 times D's
    "noise": "uniform",            # latent_spec: Uniform(62), i.e. U(-1, 1)
    "noise_dim": 62,
}


def build_parser() -> argparse.ArgumentParser:
    # Defaults are written into each help text: argparse's own "(default: ...)" would show
    # None for the options whose default depends on others, or on the environment.
    p = argparse.ArgumentParser(
        prog="mnist_gan.py",
        description="Train a GAN (Goodfellow 2014 / WGAN / WGAN-GP / LSGAN, optionally "
                    "conditional) on MNIST with tinygan, hand-derived gradients on NumPy or "
                    "CuPy. With --resume, options not given keep the run's values.")
    p.add_argument("--loss", choices=LOSSES, default=None,
                   help="objective: gan (minimax G loss), nsgan (non-saturating), wgan "
                        "(weight clipping), wgan-gp (gradient penalty), lsgan (least squares), "
                        "infogan (Chen et al. 2016: codes c = 10-way categorical + 2 uniform on "
                        "[-1, 1], Q sharing D's body; writes infogan_c1.png, infogan_c2.png) "
                        "(default: nsgan)")
    p.add_argument("--arch", choices=ARCHS, default=None,
                   help="mlp: fully connected G 100-256-512-1024-784 and D 784-1024-512-256-1; "
                        "dcgan: strided (transposed) convolutions with BatchNorm "
                        "(wgan-gp uses Gulrajani et al.'s critic without BatchNorm); "
                        "goodfellow: Goodfellow et al. 2014's MNIST recipe (ReLU/sigmoid G, "
                        "maxout D with dropout, SGD 0.1 with momentum and decay schedules, "
                        "batch 100, uniform noise, train[:50000], pixels in [0, 1]; "
                        "gan or nsgan only); infogan: Chen et al. 2016's MNIST networks and "
                        "recipe (convolutional G and D, Q with its own layers on D's body, "
                        "batch 128, Adam 2e-4 for D and Q and 5 times that for G, z 62-d "
                        "U(-1, 1); --loss infogan only) (default: mlp)")
    p.add_argument("--spectral-norm", action="store_true", default=None,
                   help="dcgan only: SN-GAN's discriminator (Miyato et al. 2018), every "
                        "layer of the DCGAN discriminator spectrally normalised, no BatchNorm "
                        "(for every loss, wgan-gp included)")
    p.add_argument("--code-accuracy", action="store_true",
                   help="infogan: after training, how well the categorical code predicts the "
                        "digit (tinygan's shipped classifier on 10,000 samples, best one-to-one "
                        "match of codes to digits), written to OUT/code_accuracy.json")
    p.add_argument("--conditional", action="store_true", default=None,
                   help="conditional GAN (Mirza & Osindero 2014): G(z, y), D(x, y), "
                        "one grid row per digit")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"total epochs; a resumed run continues up to this number "
                        f"(default: {DEFAULT_EPOCHS})")
    p.add_argument("--recipe", choices=RECIPES, default=None,
                   help=_recipe_help() + " (default: default)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="minibatch size m (default: the recipe's, 64 unless it says otherwise; "
                        "100 for --arch goodfellow, 128 for --arch infogan)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate of both G and D, with --arch infogan D's (G's is 5 "
                        "times it) (default: the recipe's, on the MLPs 5e-4 for nsgan and "
                        "wgan-gp, 7e-4 for lsgan, 2e-4 for gan and wgan; with --arch dcgan 2e-3 for "
                        "nsgan and 1e-3 for wgan-gp; the paper's is 2e-4 "
                        "Adam for gan/nsgan/lsgan, 5e-5 RMSProp for wgan, 1e-4 Adam for "
                        "wgan-gp); "
                        "may change on --resume")
    p.add_argument("--n-critic", type=int, default=None,
                   help="D/critic updates per G update (k for gan/nsgan/lsgan, default 1; "
                        "n_critic for wgan/wgan-gp, default: the recipe's, the paper's is 5)")
    p.add_argument("--clip", type=float, default=None, metavar="C",
                   help="wgan only: the critic's weights are clipped to [-C, C] after each "
                        "update (default: the recipe's, 0.02 for default on the MLPs, the "
                        "paper's 0.01 otherwise: paper, authors, --arch dcgan)")
    p.add_argument("--ema", type=float, default=None, metavar="BETA",
                   help="draw samples (grids, samples.npy, the saved generator) from an "
                        "exponential moving average of G's weights, theta_bar <- BETA "
                        "theta_bar + (1 - BETA) theta after each G update; 0 is off "
                        "(default: the recipe's, 0.995 on the MLPs but for infogan; the "
                        "papers keep no average; a BatchNorm generator's average gets "
                        "BatchNorm statistics of its own, from 2,000 draws of the prior)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the weights, noise and data order (default: 0)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=None,
                   help="array backend; cupy needs a CUDA GPU and the cupy wheel "
                        "(default: $TINYGAN_BACKEND, else numpy)")
    p.add_argument("--out", default=None,
                   help="output folder (default: runs/<loss>-<arch>[-sn][-cond])")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in OUT from its checkpoint.npz; learning rate, "
                        "epochs, logging, samples, threads and backend may change, each change "
                        "is recorded in OUT/config.json")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run OUT holds (its checkpoint, config, grids and samples "
                        "are deleted once the options are checked)")
    p.add_argument("--data-dir", default=None,
                   help="folder holding the MNIST .gz files (itself or its mnist/); must exist "
                        "(default: $TINYGAN_DATA/mnist, ~/.cache/tinygan/mnist, a download)")
    p.add_argument("--no-download", action="store_true", help="never download MNIST")
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N training images (quick runs and tests; "
                        "default: all 60,000)")
    p.add_argument("--n-samples", type=int, default=None,
                   help="samples written to OUT/samples.npy at the end, 0: none (default: 10000)")
    p.add_argument("--log-every", type=int, default=None,
                   help="iterations between logged statistics (host syncs, NaN checks, "
                        "progress bar), and always at each epoch's end; each is the mean over "
                        "its interval (default: 50)")
    threads_help = ("BLAS threads: sets OPENBLAS/OMP/MKL_NUM_THREADS before NumPy loads; 0 "
                    "leaves BLAS alone. Default: 1, unless one of these variables is already "
                    "set (on a busy 2-core CPU two threads were 10x slower than one, on an "
                    "idle one 1.3x faster)")
    p.add_argument("--threads", type=int, default=None, help=threads_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--parzen-every", type=int, default=0,
                   help="every N epochs append the Parzen-window log-likelihood of the test "
                        "set (Goodfellow et al.'s protocol: 10,000 samples, sigma chosen on "
                        "train[50000:51000]) to OUT/parzen.jsonl (default: 0, never)")
    return p


def _check_args(p: argparse.ArgumentParser, a) -> None:
    """Range checks argparse cannot express; p.error exits with status 2."""
    at_least_one = {"--epochs": a.epochs, "--batch-size": a.batch_size,
                    "--log-every": a.log_every, "--n-critic": a.n_critic, "--limit": a.limit}
    for name, value in at_least_one.items():
        if value is not None and value < 1:
            p.error(f"{name} must be >= 1, got {value}")
    at_least_zero = {"--threads": a.threads, "--n-samples": a.n_samples, "--seed": a.seed,
                     "--parzen-every": a.parzen_every}
    for name, value in at_least_zero.items():
        if value is not None and value < 0:
            p.error(f"{name} must be >= 0, got {value}")
    if a.ema is not None and not 0 <= a.ema < 1:
        p.error(f"--ema must be in [0, 1), got {a.ema}")
    if a.lr is not None and not a.lr > 0:
        p.error(f"--lr must be > 0, got {a.lr}")
    if a.clip is not None and not a.clip > 0:
        p.error(f"--clip must be > 0, got {a.clip}")
    if a.resume and a.overwrite:
        p.error("--resume continues the run in OUT, --overwrite replaces it: give one of them")


def _given(a, effective_threads: int) -> dict:
    """The options of this call under the run configuration's names; None: not given."""
    return {"loss": a.loss, "arch": a.arch, "conditional": a.conditional,
            "spectral_norm": a.spectral_norm, "recipe": a.recipe, "noise_dim": None,
            "n_classes": N_CLASSES, "batch_size": a.batch_size,
            "seed": a.seed, "limit": a.limit, "n_critic": a.n_critic, "ema": a.ema,
            "clip": a.clip, "lr": a.lr,
            "epochs": a.epochs, "log_every": a.log_every, "n_samples": a.n_samples,
            "threads": effective_threads, "backend": a.backend}


def _schedule_key(loss: str) -> str:
    return "n_critic" if loss in ("wgan", "wgan-gp") else "k"


def _recipe_value(run: dict, key: str):
    """``batch_size``, ``lr``, ``n_critic`` (k for gan/nsgan/lsgan), ``ema`` or ``clip``
    (wgan's; None for the other losses) of the run's recipe, else of the loss's paper
    (tinygan.train.recipe, tinygan.train.DEFAULTS; the papers keep no average: ema 0)."""
    from tinygan.train import DEFAULTS as PAPER
    from tinygan.train import recipe

    if key == "clip" and run["loss"] != "wgan":
        return None                                # only WGAN clips its critic
    options = recipe(run["loss"], run["recipe"], run["arch"])
    key = _schedule_key(run["loss"]) if key == "n_critic" else key
    if key in options:
        return options[key]
    return 0.0 if key == "ema" else PAPER[run["loss"]][key]      # the papers keep no average


def _trainer_options(run: dict) -> dict:
    """make_trainer's options for the run: its recipe's, with the run's lr and n_critic."""
    from tinygan.train import recipe

    chosen = recipe(run["loss"], run["recipe"], run["arch"])
    options = {k: v for k, v in chosen.items() if k not in ("batch_size", "lr")}
    options[_schedule_key(run["loss"])] = run["n_critic"]
    options["ema"] = run["ema"]
    if run["loss"] == "wgan":
        options["clip"] = run["clip"]
    if run["loss"] == "infogan":
        options.update(n_cat=run["n_cat"], n_cont=run["n_cont"])
    if run["arch"] == "infogan":
        options.update(lr_G=_g_lr_factor(run) * run["lr"], noise=INFOGAN["noise"])
    return options


def _g_lr_factor(run: dict) -> float:
    """G's learning rate over D's: INFOGAN's for --arch infogan, else 1."""
    return INFOGAN["g_lr_factor"] if run["arch"] == "infogan" else 1.0


def _fill_defaults(run: dict) -> dict:
    """Every option with its effective value (a new run, or a configuration written
    before a version of this script that recorded them all)."""
    run = dict(run)
    own = {"goodfellow": GOODFELLOW, "infogan": INFOGAN}.get(run.get("arch"))
    if own:      # the recipe's own batch size and learning rate
        run["batch_size"] = run.get("batch_size") or own["batch_size"]
        run["lr"] = run.get("lr") or own["lr"]
    for key, value in DEFAULTS.items():
        if run.get(key) is None:
            run[key] = value
    for key in ("batch_size", "lr", "n_critic", "ema", "clip"):
        if run.get(key) is None:
            run[key] = _recipe_value(run, key)
    if run["loss"] == "infogan":
        run.setdefault("n_cat", N_CAT)
        run.setdefault("n_cont", N_CONT)
    if run.get("noise_dim") is None:
        run["noise_dim"] = INFOGAN["noise_dim"] if run["arch"] == "infogan" else NOISE_DIM
    run.setdefault("n_classes", N_CLASSES)
    run.setdefault("changes", [])
    return run


def _goodfellow_trainer(loss, G, D, lr, seed, steps_per_epoch, ema=0.0):
    """The trainer of Goodfellow et al.'s code: SGD with the momentum ramp and the
    learning-rate decay attached to both optimisers, uniform noise, D and G updated
    together from one set of fakes, D's loss halved."""
    from tinygan import optim
    from tinygan.train import make_trainer

    r = GOODFELLOW
    lr = r["lr"] if lr is None else lr
    mu0, mu1, start, saturate = r["momentum"]
    trainer = make_trainer(loss, G, D, noise_dim=NOISE_DIM, lr=lr, seed=seed, optimizer="sgd",
                           momentum=mu0, noise=r["noise"], k=1, update="simultaneous",
                           d_loss_scale=r["d_loss_scale"], ema=ema)
    for opt in (trainer.opt_G, trainer.opt_D):
        opt.attach("lr", optim.ExponentialDecay(lr, *r["lr_decay"]))
        opt.attach("momentum", optim.LinearRamp(mu0, mu1, start, saturate, steps_per_epoch))
    trainer.config["schedules"] = {"lr": repr(trainer.opt_G.schedules["lr"]),
                                   "momentum": repr(trainer.opt_G.schedules["momentum"])}
    return trainer


def _parzen_logger(path, seed, value_range, log=print):
    """on_epoch_end callback: Parzen estimate of the test set from 10,000 fresh samples
    (noise from a generator seeded by (seed, epoch): training's random state is not
    touched), one JSON line per call appended to ``path`` (flushed at once)."""
    from tinygan import backend
    from tinygan.metrics.mnist import PARZEN_N, parzen_mnist

    def callback(epoch, trainer, history):
        t0 = time.perf_counter()
        rng = backend.make_rng(backend.derived_seed(seed, epoch, 11))
        samples = [trainer.sample(z=trainer.sample_noise(1000, rng=rng))
                   for _ in range(PARZEN_N // 1000)]
        xp = backend.get_array_module(samples[0])
        result = parzen_mnist(xp.concatenate(samples).reshape(PARZEN_N, -1),
                              value_range=value_range)
        seconds = time.perf_counter() - t0
        row = {"epoch": epoch, "g_step": int(trainer.g_steps), "parzen_ll": result.mean,
               "std_error": result.std_error, "sigma": result.sigma,
               "lr": trainer.opt_D.lr, "momentum": getattr(trainer.opt_D, "momentum", None),
               "seconds": round(seconds, 2), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                    time.gmtime())}
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if log:
            log(f"parzen epoch {epoch}: {result.mean:.1f} +- {result.std_error:.1f} nats "
                f"(sigma {result.sigma:.3f}, {seconds:.1f} s)")
    return callback


def _blas_threads() -> int:
    """The BLAS thread count this process runs with (0: the library's own choice)."""
    value = os.environ.get("OPENBLAS_NUM_THREADS", "")
    return int(value) if value.isdigit() else 0


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    _check_args(parser, a)
    start(a.threads)
    a.backend = a.backend or os.environ.get("TINYGAN_BACKEND") or "numpy"
    from tinygan import backend, checkpoint, loop, plot, runs
    from tinygan.data import (Minibatches, MNISTFormatError, MNISTNotFoundError,
                              find_mnist_file, load_mnist)
    from tinygan.data.mnist import FILES
    from tinygan.train import make_trainer, recipe

    def fail(msg: str, status: int = 2) -> int:
        print(f"mnist_gan.py: error: {msg}", file=sys.stderr)
        return status

    # -- the run: a new one (never over another) or the checkpoint's, with allowed changes
    given = _given(a, _blas_threads())
    if a.out is None:
        loss, arch = a.loss or DEFAULTS["loss"], a.arch or DEFAULTS["arch"]
        a.out = os.path.join("runs", f"{loss}-{arch}" + ("-sn" if a.spectral_norm else "")
                             + ("-cond" if a.conditional else ""))
    ckpt = os.path.join(a.out, runs.CHECKPOINT_NAME)
    resumed_after, saved = 0, None
    if a.resume:
        if not os.path.isfile(ckpt):
            return fail(f"--resume: no checkpoint at {ckpt}")
        try:
            meta = checkpoint.load_meta(ckpt)
            saved = runs.checkpoint_run(meta, a.out)
        except (checkpoint.CheckpointError, ValueError) as err:
            return fail(f"cannot resume: {err}")
        if saved is None:
            return fail(f"cannot resume: {ckpt} records no run configuration and "
                        f"{os.path.join(a.out, runs.CONFIG_NAME)} is missing")
        resumed_after = int(meta.get("epoch", 0))
        try:
            # no recipe: the paper's; no ema: a run from before averaging, kept without it;
            # no clip: a run from before clip was recorded, whose critic was clipped at 0.01
            before = _fill_defaults({"recipe": "paper", "ema": 0.0, "clip": (
                0.01 if saved.get("loss") == "wgan" else None), **saved})
            run = _fill_defaults(runs.resume_changes(before, given, resumed_after))
        except runs.ResumeRefused as err:
            return fail(f"--resume: {err}")
        if run["epochs"] <= resumed_after:
            print(f"nothing to do: {ckpt} is at epoch {resumed_after} and --epochs is "
                  f"{run['epochs']}; give a larger --epochs to train further")
            return 0
    else:
        existing = runs.run_files(a.out)
        if existing and not a.overwrite:
            return fail(f"{a.out} holds a run ({', '.join(existing)}); continue it with "
                        f"--resume, or replace it with --overwrite")
        run = _fill_defaults({"format": runs.RUN_FORMAT, **given})
    if run["clip"] is not None and run["loss"] != "wgan":
        return fail(f"--clip is WGAN's clipping bound: give it with --loss wgan, not "
                    f"{run['loss']}")
    if run["arch"] == "goodfellow":
        if run["loss"] not in ("gan", "nsgan"):
            return fail(f"--arch goodfellow is the recipe of the original GAN: --loss gan or "
                        f"nsgan, got {run['loss']}")
        if run["conditional"]:
            return fail("--arch goodfellow has no conditional variant")
        if run["n_critic"] != 1:
            return fail(f"--arch goodfellow updates D and G together (k = 1), got --n-critic "
                        f"{run['n_critic']}")
    if run["arch"] == "infogan" and run["loss"] != "infogan":
        return fail(f"--arch infogan is InfoGAN's pair (D with a Q head): --loss infogan, "
                    f"got {run['loss']}")
    if run["loss"] == "infogan" and run["conditional"]:
        return fail("--loss infogan is unsupervised: its categorical code takes the label's "
                    "place (drop --conditional)")
    if a.code_accuracy and run["loss"] != "infogan":
        return fail("--code-accuracy measures InfoGAN's categorical code: use it with "
                    "--loss infogan")
    if run["spectral_norm"] and run["arch"] != "dcgan":
        return fail("--spectral-norm needs --arch dcgan (it normalises the DCGAN discriminator)")
    if run["limit"] is not None and run["limit"] < run["batch_size"]:
        return fail(f"--limit {run['limit']} is smaller than one minibatch "
                    f"(--batch-size {run['batch_size']})")
    if a.data_dir is not None and not os.path.isdir(a.data_dir):
        return fail(f"--data-dir {a.data_dir}: no such folder")

    # -- data, models, trainer: every check before anything is written --------------------
    try:
        backend.set_backend(run["backend"], seed=run["seed"])
        names = FILES["train"]
        for name in names if a.data_dir is not None else ():  # taken at its word
            if not any(os.path.isfile(os.path.join(d, name))
                       for d in (a.data_dir, os.path.join(a.data_dir, "mnist"))):
                return fail(f"--data-dir {a.data_dir} holds no {name} (looked in it and in "
                            f"its mnist/ folder)")
        data_files = [find_mnist_file(n, a.data_dir, download=not a.no_download) for n in names]
        goodfellow = run["arch"] == "goodfellow"
        value_range = (0, 1) if goodfellow else (-1, 1)
        images = run["arch"] in ("dcgan", "infogan")        # convolutional: (N, 1, 28, 28)
        x, y = load_mnist("train", data_dir=a.data_dir, flatten=not images,
                          download=not a.no_download, value_range=value_range)
        if goodfellow:      # train on train[:50000]; train[50000:] is the validation set
            x, y = x[GOODFELLOW["train"]], y[GOODFELLOW["train"]]
        if run["limit"] is not None:
            x, y = x[:run["limit"]], y[:run["limit"]]
        G, D = runs.build_models(run, backend.make_rng(run["seed"]), x=x)
        batches = Minibatches(x, y if run["conditional"] else None,
                              batch_size=run["batch_size"], seed=run["seed"])
        if goodfellow:
            trainer = _goodfellow_trainer(run["loss"], G, D, run["lr"], run["seed"],
                                          len(batches), run["ema"])
        else:
            trainer = make_trainer(run["loss"], G, D, noise_dim=run["noise_dim"],
                                   conditional=run["conditional"], n_classes=N_CLASSES,
                                   lr=run["lr"], seed=run["seed"], **_trainer_options(run))
    except (MNISTNotFoundError, MNISTFormatError, RuntimeError, ValueError) as err:
        return fail(str(err))

    print("tinygan MNIST GAN")
    for key in runs.FIXED + runs.CHANGEABLE:
        if key != "clip" or run["loss"] == "wgan":          # only WGAN clips
            print(f"  {key:<12} {run[key]}")
    print(f"  {'optimizer':<12} {trainer.config['optimizer']['kind']}")
    if "schedules" in trainer.config:
        print(f"  {'schedules':<12} {trainer.config['schedules']}")
    schedule = {k: trainer.config[k] for k in ("n_critic", "k", "warmup", "clip", "lam")
                if k in trainer.config}
    paper_note = ", the paper's: not measured on these models" if (
        run["recipe"] == "default" and run["arch"] != "mlp"
        and recipe(run["loss"], "default", run["arch"]) == recipe(run["loss"], "paper")) else ""
    print(f"  {'schedule':<12} {schedule}  (recipe {run['recipe']}{paper_note})")
    print(f"  {'data':<12} {x.shape[0]} images, {len(batches)} minibatches per epoch, from "
          f"{', '.join(data_files)}")
    print(f"  {'out':<12} {a.out}")
    this_change = run["changes"][-1]["changed"] if len(run["changes"]) > len(
        (saved or {}).get("changes", [])) else {}
    for key, (old, new) in this_change.items():
        print(f"  changed      {key} {old} -> {new} from epoch {resumed_after + 1}")

    if a.overwrite:
        removed = runs.clear_run(a.out)
        if removed:
            print(f"replaced the run in {a.out} (removed {', '.join(removed)})")
    if a.resume:  # an interruption between the checkpoint and its config.json copy
        runs.sync_config(a.out, saved)

    def set_lr(trainer, epoch):
        if "lr" in this_change:
            trainer.opt_D.lr = run["lr"]
            trainer.opt_G.lr = _g_lr_factor(run) * run["lr"]

    pictures = plot.EpochPictures(a.out, trainer, value_range=value_range)
    parzen = None
    if a.parzen_every:
        parzen = _parzen_logger(os.path.join(a.out, "parzen.jsonl"), run["seed"], value_range)

    def on_epoch_end(epoch, trainer, history):  # right after the checkpoint holding `run`
        runs.write_config(a.out, run)
        pictures(epoch, trainer, history)
        if parzen is not None and epoch % a.parzen_every == 0:
            parzen(epoch, trainer, history)

    t0 = time.perf_counter()
    try:
        result = loop.fit(trainer, batches, run["epochs"], a.out, log_every=run["log_every"],
                          resume=a.resume, progress=not a.no_progress, run_meta=run,
                          on_resume=set_lr, on_epoch_end=on_epoch_end)
    except loop.TrainingDiverged as err:
        return fail(str(err), status=1)
    except KeyboardInterrupt:
        if os.path.isfile(ckpt):
            runs.sync_config(a.out, runs.checkpoint_run(checkpoint.load_meta(ckpt)))
            where = f"{ckpt} holds the last finished epoch; continue with --resume"
        else:
            where = "no epoch had finished, nothing was saved"
        print(f"\nmnist_gan.py: interrupted; {where}", file=sys.stderr)
        return 130
    except (checkpoint.CheckpointError, ValueError, KeyError) as err:  # e.g. other models
        if not a.resume:
            raise
        return fail(f"cannot resume: {err}")
    train_seconds = time.perf_counter() - t0

    h = result.history
    if result.epoch_times:
        mean = sum(result.epoch_times) / len(result.epoch_times)
        print(f"trained {len(result.epoch_times)} epoch(s) in {train_seconds:.1f} s "
              f"({mean:.1f} s per epoch of training steps)")
    if h:
        final = ", ".join(f"{k} {v[-1]:.4f}" for k, v in h.items()
                          if k not in ("iteration", "g_step"))
        print(f"final (iteration {int(h['iteration'][-1])}, G step {int(h['g_step'][-1])}): "
              f"{final}")
    last_grid = os.path.join(a.out, plot.grid_name(result.epochs_done))
    print(f"sample grid: {last_grid}")
    print(f"loss curves: {os.path.join(a.out, plot.LOSSES_NAME)}")
    print(f"checkpoint:  {result.checkpoint_path}")
    if run["n_samples"]:
        t1 = time.perf_counter()
        path = loop.save_samples(trainer, run["n_samples"],
                                 os.path.join(a.out, runs.SAMPLES_NAME))
        print(f"samples:     {path} ({run['n_samples']} x 784 float32 in "
              f"[{value_range[0]}, {value_range[1]}], "
              f"{time.perf_counter() - t1:.1f} s)")
    if run["loss"] == "infogan":
        for j in range(run["n_cont"]):
            print(f"codes:       {_infogan_picture(trainer, j, a.out)}")
        if a.code_accuracy:
            _write_json(os.path.join(a.out, "code_accuracy.json"), _code_accuracy(trainer))
    return 0


def _write_json(path: str, obj) -> None:
    from tinygan.atomic import atomic_open

    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)


def _infogan_picture(trainer, j, out):
    """Rows: c_cat = 0..9; columns: c_cont[j] from -2 to 2 (beyond the training range
    [-1, 1], as Chen et al.'s Figure 2), the other codes 0, one z for every cell."""
    import numpy

    from tinygan import backend, plot

    xp = backend.get_backend()
    z = xp.repeat(trainer.sample_noise(1, rng=backend.make_rng(trainer.seed + 7)), 100, axis=0)
    c_cat = xp.repeat(xp.arange(N_CAT), 10)
    c_cont = xp.zeros((100, N_CONT), dtype=trainer.dtype)
    c_cont[:, j] = xp.asarray(numpy.tile(numpy.linspace(-2, 2, 10), N_CAT), dtype=trainer.dtype)
    return plot.save_sample_grid(trainer.sample(z=z, c_cat=c_cat, c_cont=c_cont),
                                 os.path.join(out, f"infogan_c{j + 1}.png"), nrow=10)


def _code_accuracy(trainer, per_code=1000):
    """Chen et al. 2016, sec. 7.1: classify samples made with each categorical code and
    match codes to digits one-to-one (tinygan.metrics.code_class_accuracy)."""
    from tinygan import backend
    from tinygan.classifier import load_classifier
    from tinygan.metrics import code_class_accuracy

    xp = backend.get_backend()
    rng = backend.make_rng(trainer.seed + 8)
    clf = load_classifier()
    codes, digits = [], []
    for c in range(N_CAT):
        z = trainer.sample_noise(per_code, rng=rng)
        _, c_cont = trainer.sample_codes(per_code, rng=rng)
        x = trainer.sample(z=z, c_cat=xp.full(per_code, c), c_cont=c_cont)
        codes.append(xp.full(per_code, c))
        digits.append(clf.predict(x.reshape(per_code, 1, 28, 28)))
    match = code_class_accuracy(xp.concatenate(codes), xp.concatenate(digits), N_CAT, N_CLASSES)
    print(f"categorical code -> digit: accuracy {match.accuracy:.4f} "
          f"(error {1 - match.accuracy:.2%}; Chen et al. 2016 report about 5% error) with "
          f"the match {dict(enumerate(match.assignment.tolist()))}, {per_code} samples per code")
    return {"accuracy": match.accuracy, "assignment": match.assignment.tolist(),
            "counts": match.counts.tolist(), "samples_per_code": per_code}


if __name__ == "__main__":
    sys.exit(main())
