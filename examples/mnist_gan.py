"""Train a GAN on MNIST with tinygan: the main example.

    python examples/mnist_gan.py                          # non-saturating GAN, MLPs, defaults
    python examples/mnist_gan.py --loss wgan-gp --arch dcgan --epochs 10
    python examples/mnist_gan.py --loss wgan --recipe paper   # Arjovsky et al.'s Alg. 1 as printed
    python examples/mnist_gan.py --conditional            # cGAN: one grid row per digit
    python examples/mnist_gan.py --arch dcgan --spectral-norm   # SN-GAN's discriminator
    python examples/mnist_gan.py --loss infogan --code-accuracy # InfoGAN, codes vs digits
    python examples/mnist_gan.py --resume                 # continue runs/nsgan-mlp
    python examples/mnist_gan.py --limit 1024 --epochs 1  # a quick smoke run
    python examples/mnist_gan.py --arch goodfellow --epochs 100 --parzen-every 2
                                  # Goodfellow et al. 2014's own MNIST recipe (mnist.yaml)

Writes into --out (default runs/<loss>-<arch>[-sn][-cond]): samples_epoch_NNN.png (a grid from
a fixed noise batch after each epoch), losses.png, checkpoint.npz (atomic, at each epoch
end; --resume continues from it), config.json, and at the end samples.npy: --n-samples
generated digits, float32, shape (N, 784), values in [-1, 1] ([0, 1] for --arch
goodfellow), for tinygan.metrics. With --parzen-every N, parzen.jsonl gets one line per
N epochs: the Parzen-window log-likelihood of the test set, the authors' protocol.

MNIST is looked up in --data-dir, $TINYGAN_DATA/mnist, ~/.cache/tinygan/mnist, and
downloaded (SHA-256 checked) when missing unless --no-download is given.

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

from _blas import set_blas_threads  # examples/_blas.py: sets BLAS threads before NumPy loads

LOSSES = ("gan", "nsgan", "wgan", "wgan-gp", "lsgan", "infogan")
N_CAT, N_CONT = 10, 2    # InfoGAN's codes: one 10-way categorical, two continuous (Chen 2016)
ARCHS = ("mlp", "dcgan", "goodfellow")
NOISE_DIM = 100
N_CLASSES = 10
# Default epochs, chosen from measured time (docs, "Examples and options"): the MLP
# non-saturating GAN took 63-87 s per epoch on a shared 2-core CPU with one BLAS thread
# (up to 160 s when the machine was busier), so 5 epochs take 6-10 minutes; digits are
# recognisable from epoch 3.
DEFAULT_EPOCHS = 5
# Options that must match a checkpoint's run for --resume to continue it.
_RUN_KEYS = ("loss", "arch", "conditional", "batch_size", "lr", "seed", "limit", "n_critic",
             "spectral_norm", "recipe")
# Run options added after the first release: a saved config without them had this value
# (before --recipe, every loss trained with its paper's setting).
_LATER_KEYS = {"spectral_norm": False, "recipe": "paper"}
RECIPES = ("default", "paper", "authors")   # tinygan.train.RECIPE_NAMES (checked in main)


def _recipe_help() -> str:
    return ("named setting of the trainer and minibatch (explicit --lr, --n-critic, "
            "--batch-size override it). paper: each paper's algorithm box (for wgan "
            "Arjovsky et al. 2017, Alg. 1: RMSProp 5e-5, clip 0.01, n_critic 5, m 64; for wgan-gp "
            "Gulrajani et al. 2017, Alg. 1: Adam 1e-4, betas (0, 0.9), lambda 10, n_critic 5, "
            "m 64). authors: the authors' released code (wgan: the paper's box plus the critic "
            "warm-up of WassersteinGAN main.py, 100 critic updates for the first 25 and every "
            "500th G update; wgan-gp: gan_mnist.py's Adam betas (0.5, 0.9) and m 50). default: "
            "tinygan's, the setting that measured best (docs/recipes.md): "
            + DEFAULT_RECIPE_TEXT + ". gan, nsgan and lsgan use their paper's setting in "
            "every recipe")


# What --recipe default changes from the paper's box, per Wasserstein loss (docs/recipes.md).
DEFAULT_RECIPE_TEXT = "for wgan and wgan-gp the paper's box"

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

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mnist_gan.py",
        description="Train a GAN (Goodfellow 2014 / WGAN / WGAN-GP / LSGAN, optionally "
                    "conditional) on MNIST with tinygan, hand-derived gradients on NumPy or CuPy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--loss", choices=LOSSES, default="nsgan",
                   help="objective: gan (minimax G loss), nsgan (non-saturating), wgan "
                        "(weight clipping), wgan-gp (gradient penalty), lsgan (least squares), "
                        "infogan (Chen et al. 2016: codes c = 10-way categorical + 2 uniform on "
                        "[-1, 1], Q sharing D's body; writes infogan_c1.png, infogan_c2.png)")
    p.add_argument("--arch", choices=ARCHS, default="mlp",
                   help="mlp: fully connected G 100-256-512-1024-784 and D 784-1024-512-256-1; "
                        "dcgan: strided (transposed) convolutions with BatchNorm "
                        "(wgan-gp uses Gulrajani et al.'s critic without BatchNorm); "
                        "goodfellow: Goodfellow et al. 2014's MNIST recipe (ReLU/sigmoid G, "
                        "maxout D with dropout, SGD 0.1 with momentum and decay schedules, "
                        "batch 100, uniform noise, train[:50000], pixels in [0, 1]; "
                        "gan or nsgan only)")
    p.add_argument("--spectral-norm", action="store_true",
                   help="dcgan only: SN-GAN's discriminator (Miyato et al. 2018), every "
                        "layer of the DCGAN discriminator spectrally normalised, no BatchNorm "
                        "(for every loss, wgan-gp included)")
    p.add_argument("--code-accuracy", action="store_true",
                   help="infogan: after training, how well the categorical code predicts the "
                        "digit (tinygan's classifier on 10,000 samples, best one-to-one match "
                        "of codes to digits); trains the classifier once if it is not cached")
    p.add_argument("--conditional", action="store_true",
                   help="conditional GAN (Mirza & Osindero 2014): G(z, y), D(x, y), "
                        "one grid row per digit")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                   help="total epochs (a resumed run continues up to this number)")
    p.add_argument("--recipe", choices=RECIPES, default="default", help=_recipe_help())
    p.add_argument("--batch-size", type=int, default=None,
                   help="minibatch size m (default: the recipe's, 64 unless it says otherwise; "
                        "100 for --arch goodfellow)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate of both G and D (default: the recipe's; the paper's "
                        "is 2e-4 Adam for gan/nsgan/lsgan, 5e-5 RMSProp for wgan, "
                        "1e-4 Adam for wgan-gp)")
    p.add_argument("--n-critic", type=int, default=None,
                   help="D/critic updates per G update (k for gan/nsgan/lsgan, default 1; "
                        "n_critic for wgan/wgan-gp, default: the recipe's, the paper's is 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, noise and data order")
    p.add_argument("--backend", choices=("numpy", "cupy"),
                   default=os.environ.get("TINYGAN_BACKEND", "numpy") or "numpy",
                   help="array backend (cupy needs a CUDA GPU and the cupy wheel)")
    p.add_argument("--out", default=None, help="output folder (default runs/<loss>-<arch>[-cond])")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.npz (same options required)")
    p.add_argument("--data-dir", default=None, help="folder holding the MNIST .gz files")
    p.add_argument("--no-download", action="store_true", help="never download MNIST")
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N training images (quick runs and tests)")
    p.add_argument("--n-samples", type=int, default=10000,
                   help="samples written to OUT/samples.npy at the end (0: none)")
    p.add_argument("--log-every", type=int, default=50,
                   help="iterations between logged statistics (host syncs, NaN checks, "
                        "progress bar); each is the mean over its interval")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads: sets OPENBLAS/OMP/MKL_NUM_THREADS before NumPy loads; "
                        "0 leaves BLAS alone. Default: 1, unless one of these variables is "
                        "already set (on a busy 2-core CPU two threads were 10x slower than "
                        "one, on an idle one 1.3x faster)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--parzen-every", type=int, default=0,
                   help="every N epochs append the Parzen-window log-likelihood of the test "
                        "set (Goodfellow et al.'s protocol: 10,000 samples, sigma chosen on "
                        "train[50000:51000]) to OUT/parzen.jsonl (0: never)")
    return p


def _check_args(p: argparse.ArgumentParser, a) -> None:
    """Range checks argparse cannot express; p.error exits with status 2."""
    if a.batch_size is None and a.arch == "goodfellow":   # else the recipe's (main)
        a.batch_size = GOODFELLOW["batch_size"]
    if a.arch == "goodfellow":
        if a.loss not in ("gan", "nsgan"):
            p.error(f"--arch goodfellow is the recipe of the original GAN: --loss gan or nsgan, "
                    f"got {a.loss}")
        if a.conditional:
            p.error("--arch goodfellow has no conditional variant")
        if a.n_critic not in (None, 1):
            p.error(f"--arch goodfellow updates D and G together (k = 1), got --n-critic "
                    f"{a.n_critic}")
    if a.parzen_every < 0:
        p.error(f"--parzen-every must be >= 0, got {a.parzen_every}")
    positive = {"--epochs": a.epochs, "--log-every": a.log_every}
    for name, value in positive.items():
        if value < 1:
            p.error(f"{name} must be >= 1, got {value}")
    for name, value in {"--n-critic": a.n_critic, "--limit": a.limit,
                        "--batch-size": a.batch_size}.items():
        if value is not None and value < 1:
            p.error(f"{name} must be >= 1, got {value}")
    if a.threads is not None and a.threads < 0:
        p.error(f"--threads must be >= 0, got {a.threads}")
    if a.n_samples < 0:
        p.error(f"--n-samples must be >= 0, got {a.n_samples}")
    if a.lr is not None and not a.lr > 0:
        p.error(f"--lr must be > 0, got {a.lr}")
    if a.seed < 0:
        p.error(f"--seed must be >= 0, got {a.seed}")
    if a.limit is not None and a.batch_size is not None and a.limit < a.batch_size:
        p.error(f"--limit {a.limit} is smaller than one minibatch (--batch-size {a.batch_size})")
    if a.loss == "infogan" and a.conditional:
        p.error("--loss infogan is unsupervised: its categorical code takes the label's place "
                "(drop --conditional)")
    if a.code_accuracy and a.loss != "infogan":
        p.error("--code-accuracy measures InfoGAN's categorical code: use it with --loss infogan")
    if a.spectral_norm and a.arch != "dcgan":
        p.error("--spectral-norm needs --arch dcgan (it normalises the DCGAN discriminator)")


def _models(arch: str, loss: str, conditional: bool, rng, spectral_norm: bool = False,
            x=None, seed=0):
    """G and D for ``arch``; conditional models take n_classes extra inputs. ``x``: the
    training images (goodfellow: G's output bias from their pixel marginals)."""
    from tinygan import models

    if arch == "goodfellow":
        return (models.goodfellow_generator(NOISE_DIM, marginals_of=x, rng=rng),
                models.goodfellow_discriminator(seed=seed, rng=rng))
    k = N_CLASSES if conditional else 0
    # InfoGAN: G takes [z, onehot(c_cat), c_cont]; D's last layer also gives Q's outputs
    codes, out = (N_CAT + N_CONT, 1 + N_CAT + N_CONT) if loss == "infogan" else (0, 1)
    if arch == "mlp":
        return (models.mlp_generator(NOISE_DIM + codes, n_classes=k, rng=rng),
                models.mlp_discriminator(784, n_classes=k, rng=rng, out_dim=out))
    G = models.dcgan_generator(NOISE_DIM + codes, n_classes=k, rng=rng)
    if spectral_norm:       # SN-GAN: no BatchNorm, so the penalty applies too
        return G, models.dcgan_discriminator(spectral_norm=True, n_classes=k, rng=rng,
                                             out_dim=out)
    if loss == "infogan":
        return G, models.dcgan_discriminator(n_classes=k, rng=rng, out_dim=out)
    if loss == "wgan-gp":   # the penalty needs a per-sample critic: no BatchNorm
        return G, models.wgangp_conv_critic(n_classes=k, rng=rng)
    return G, models.dcgan_discriminator(batchnorm=True, n_classes=k, rng=rng)


def _apply_recipe(a) -> dict:
    """The trainer options of --recipe for --loss; fills in --batch-size when not given.
    Explicit --lr / --n-critic win over the recipe (main passes them after it)."""
    from tinygan.train import RECIPE_NAMES, recipe

    assert RECIPES == RECIPE_NAMES, (RECIPES, RECIPE_NAMES)
    options = recipe(a.loss, a.recipe)
    batch_size = options.pop("batch_size")
    if a.batch_size is None:
        a.batch_size = batch_size
    return options


def _run_config(a) -> dict:
    return {"loss": a.loss, "arch": a.arch, "conditional": a.conditional, "recipe": a.recipe,
            "batch_size": a.batch_size, "lr": a.lr, "seed": a.seed, "limit": a.limit,
            "n_critic": a.n_critic, "epochs": a.epochs, "backend": a.backend,
            "spectral_norm": a.spectral_norm}


def _goodfellow_trainer(loss, G, D, lr, seed, steps_per_epoch):
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
                           d_loss_scale=r["d_loss_scale"])
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
    import numpy
    from tinygan import backend, loop
    from tinygan.metrics.mnist import PARZEN_N, parzen_mnist

    def callback(epoch, trainer, history):
        t0 = time.perf_counter()
        rng = backend.make_rng(int(numpy.random.SeedSequence([seed, epoch, 11]).generate_state(1)[0]))
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


def _check_resume(out: str, config: dict) -> None:
    path = os.path.join(out, "config.json")
    if not os.path.isfile(path):
        return  # the trainer's own checks still apply
    with open(path) as f:
        saved = json.load(f)
    saved = {**_LATER_KEYS, **saved}
    differ = {k: (saved.get(k), config[k]) for k in _RUN_KEYS if saved.get(k) != config[k]}
    if differ:
        raise ValueError(f"--resume: options differ from the run in {out} "
                         f"(option: (saved, given)): {differ}")


def _write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    _check_args(parser, a)
    set_blas_threads(a.threads)
    if a.out is None:
        a.out = os.path.join("runs", f"{a.loss}-{a.arch}" + ("-sn" if a.spectral_norm else "")
                             + ("-cond" if a.conditional else ""))

    try:
        import tinygan  # noqa: F401
    except ImportError:  # running from a source checkout without installing
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    recipe_options = _apply_recipe(a)
    if a.limit is not None and a.limit < a.batch_size:
        parser.error(f"--limit {a.limit} is smaller than one minibatch of the recipe "
                     f"({a.batch_size}); give --batch-size")
    config = _run_config(a)
    if a.resume:
        try:  # before loading data and models: a mismatch is refused at once
            _check_resume(a.out, config)
        except ValueError as err:
            print(f"mnist_gan.py: error: {err}", file=sys.stderr)
            return 2

    from tinygan import backend, loop, plot
    from tinygan.checkpoint import CheckpointError
    from tinygan.data import Minibatches, MNISTFormatError, MNISTNotFoundError, load_mnist
    from tinygan.train import DEFAULTS, make_trainer

    def fail(msg: str, status: int = 2) -> int:
        print(f"mnist_gan.py: error: {msg}", file=sys.stderr)
        return status

    try:
        backend.set_backend(a.backend, seed=a.seed)
        if a.resume:
            if not os.path.isfile(os.path.join(a.out, loop.CHECKPOINT_NAME)):
                return fail(f"--resume: no checkpoint at "
                            f"{os.path.join(a.out, loop.CHECKPOINT_NAME)}")
        goodfellow = a.arch == "goodfellow"
        value_range = (0, 1) if goodfellow else (-1, 1)
        x, y = load_mnist("train", data_dir=a.data_dir, flatten=(a.arch != "dcgan"),
                          download=not a.no_download, value_range=value_range)
        if goodfellow:      # train on train[:50000]; train[50000:] is the validation set
            x, y = x[GOODFELLOW["train"]], y[GOODFELLOW["train"]]
        if a.limit is not None:
            x, y = x[:a.limit], y[:a.limit]
        G, D = _models(a.arch, a.loss, a.conditional, backend.make_rng(a.seed), a.spectral_norm,
                       x=x, seed=a.seed)
        batches = Minibatches(x, y if a.conditional else None, batch_size=a.batch_size, seed=a.seed)
        if goodfellow:
            trainer = _goodfellow_trainer(a.loss, G, D, a.lr, a.seed, len(batches))
        else:
            options = dict(recipe_options)
            if a.n_critic is not None:
                options["n_critic" if a.loss in ("wgan", "wgan-gp") else "k"] = a.n_critic
            if a.loss == "infogan":
                options.update(n_cat=N_CAT, n_cont=N_CONT)
            lr = a.lr if a.lr is not None else options.get("lr")
            options.pop("lr", None)
            trainer = make_trainer(a.loss, G, D, noise_dim=NOISE_DIM, conditional=a.conditional,
                                   n_classes=N_CLASSES, lr=lr, seed=a.seed, **options)
    except (MNISTNotFoundError, MNISTFormatError, RuntimeError, ValueError) as err:
        return fail(str(err))

    paper = {"lr": GOODFELLOW["lr"]} if goodfellow else DEFAULTS[a.loss]
    print("tinygan MNIST GAN")
    for key, value in config.items():
        print(f"  {key:<12} {value}")
    print(f"  {'optimizer':<12} {trainer.config['optimizer']}  (paper default lr {paper['lr']})")
    if "schedules" in trainer.config:
        print(f"  {'schedules':<12} {trainer.config['schedules']}")
    schedule = {k: trainer.config[k] for k in ("n_critic", "k", "warmup", "clip", "lam")
                if k in trainer.config}
    print(f"  {'schedule':<12} {schedule}  (recipe {a.recipe})")
    print(f"  {'data':<12} {x.shape[0]} images, {len(batches)} minibatches per epoch")
    print(f"  {'threads':<12} {os.environ.get('OPENBLAS_NUM_THREADS', 'BLAS default')} (BLAS)")
    print(f"  {'out':<12} {a.out}")
    os.makedirs(a.out, exist_ok=True)
    if not a.resume:
        _write_json(os.path.join(a.out, "config.json"), config)

    pictures = plot.EpochPictures(a.out, trainer, value_range=value_range)
    on_epoch_end = pictures
    if a.parzen_every:
        parzen = _parzen_logger(os.path.join(a.out, "parzen.jsonl"), a.seed, value_range)

        def on_epoch_end(epoch, trainer, history):
            pictures(epoch, trainer, history)
            if epoch % a.parzen_every == 0:
                parzen(epoch, trainer, history)

    t0 = time.perf_counter()
    try:
        result = loop.fit(trainer, batches, a.epochs, a.out, log_every=a.log_every,
                          resume=a.resume, progress=not a.no_progress,
                          on_epoch_end=on_epoch_end)
    except loop.TrainingDiverged as err:
        return fail(str(err), status=1)
    except KeyboardInterrupt:
        ckpt = os.path.join(a.out, loop.CHECKPOINT_NAME)
        where = (f"{ckpt} holds the last finished epoch; continue with --resume"
                 if os.path.isfile(ckpt) else "no epoch had finished, nothing was saved")
        print(f"\nmnist_gan.py: interrupted; {where}", file=sys.stderr)
        return 130
    except (CheckpointError, ValueError, KeyError) as err:  # e.g. a checkpoint of other models
        if not a.resume:
            raise
        return fail(f"cannot resume from {os.path.join(a.out, loop.CHECKPOINT_NAME)}: {err}")
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
    if a.n_samples:
        t1 = time.perf_counter()
        path = loop.save_samples(trainer, a.n_samples, os.path.join(a.out, "samples.npy"))
        print(f"samples:     {path} ({a.n_samples} x 784 float32 in "
              f"[{value_range[0]}, {value_range[1]}], "
              f"{time.perf_counter() - t1:.1f} s)")
    if a.loss == "infogan":
        for j in range(N_CONT):
            print(f"codes:       {_infogan_picture(trainer, j, a.out)}")
        if a.code_accuracy:
            _write_json(os.path.join(a.out, "code_accuracy.json"), _code_accuracy(trainer))
    return 0


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
