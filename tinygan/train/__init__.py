"""Training algorithms, one module per paper's algorithm box, and ``make_trainer``.

=========  ==========================================  ============================
loss       class (module)                              paper
=========  ==========================================  ============================
"gan"      GAN(generator_loss="minimax")  (gan.py)      Goodfellow et al. 2014, Alg. 1
"nsgan"    GAN(generator_loss="nonsaturating")         Goodfellow et al. 2014, sec. 3
"wgan"     WGAN (wgan.py)                              Arjovsky et al. 2017, Alg. 1
"wgan-gp"  WGANGP (wgangp.py)                          Gulrajani et al. 2017, Alg. 1
"lsgan"    LSGAN (lsgan.py)                            Mao et al. 2017, eq. 2
"infogan"  InfoGAN (infogan.py)                        Chen et al. 2016, eqs. 5-6
=========  ==========================================  ============================

Every trainer but InfoGAN is conditional on request (Mirza & Osindero 2014): G([z, y]),
D([x, y]); InfoGAN's codes take the label's place, unsupervised.
The template the boxes fill in (noise, schedule, sampling, the shared D and G passes):
``base.py``; conditional labels: ``conditional.py``; checkpoint state: ``state.py``.
Named settings (the paper's box, the authors' code, tinygan's measured default):
``RECIPES`` below.
Docs: docs/derivations.md, "Training algorithms".
"""
from __future__ import annotations

from .. import checks, optim
from ..runs import ARCHS
from .base import NOISES, Trainer
from .conditional import FAKE_LABELS
from .gan import GAN, GENERATOR_LOSSES
from .infogan import InfoGAN
from .lsgan import LSGAN
from .wgan import WGAN
from .wgangp import WGANGP

LOSSES = ("gan", "nsgan", "wgan", "wgan-gp", "lsgan", "infogan")
OPTIMIZERS = ("adam", "rmsprop", "sgd")

#: Paper defaults per loss: optimiser and its hyperparameters, and the algorithm's own.
DEFAULTS = {
    # Adam as in DCGAN (Radford et al. 2016, sec. 4); optimizer="sgd" gives Goodfellow
    # et al.'s MNIST setting (lr 0.1, momentum 0.5; their code raises it to 0.7).
    "gan":     {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "k": 1,
                "update": "alternating", "d_loss_scale": 1.0},
    "nsgan":   {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "k": 1,
                "update": "alternating", "d_loss_scale": 1.0},
    # Arjovsky et al. 2017, Alg. 1: alpha 5e-5, c 0.01, n_critic 5, RMSProp
    "wgan":    {"optimizer": "rmsprop", "lr": 5e-5, "n_critic": 5, "clip": 0.01, "warmup": False},
    # Gulrajani et al. 2017, Alg. 1: lambda 10, n_critic 5, Adam 1e-4, (0, 0.9)
    "wgan-gp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "n_critic": 5, "lam": 10.0,
                "one_sided": False},
    # Mao et al. 2017: a=0, b=1, c=1 (eq. 9); Adam with beta1 0.5 as in DCGAN, DCGAN's lr
    "lsgan":   {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "k": 1, "a": 0.0, "b": 1.0,
                "c": 1.0},
    # Chen et al. 2016: lambda 1 for the categorical code; 0.1 for the continuous ones
    # (smaller, sec. 7); Adam as DCGAN (their MNIST run: 2e-4 for D, 1e-3 for G)
    "infogan": {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "k": 1, "n_cat": 10,
                "n_cont": 2, "lambda_cat": 1.0, "lambda_cont": 0.1},
}

#: Named recipes: per loss, the options a recipe changes from ``DEFAULTS`` (the paper's box,
#: which make_trainer starts from) and the minibatch size; losses a recipe does not name
#: train with the paper's setting. Sources and measurements: docs/recipes.md.
#:   "paper"    the algorithm box: Arjovsky et al. 2017, Alg. 1 (RMSProp 5e-5, c 0.01,
#:              n_critic 5, m 64); Gulrajani et al. 2017, Alg. 1 (Adam 1e-4, betas (0, 0.9),
#:              lambda 10, n_critic 5; m 64, which the box leaves open)
#:   "authors"  the authors' released code: WassersteinGAN main.py's critic warm-up (100
#:              critic updates before each of the first 25 G updates and every 500th);
#:              improved_wgan_training gan_mnist.py's Adam betas (0.5, 0.9) and batch 50
#:   "default"  tinygan's: what measured best on the MNIST MLPs at a fixed budget
#:              (benchmarks/recipe_ablation.py, benchmarks/averaging.py); gan keeps its
#:              paper's training setting; every loss but infogan samples from an average
#:              of G's weights
RECIPE_NAMES = ("default", "paper", "authors")
BATCH_SIZE = 64   # Arjovsky et al.'s m; DCGAN's minibatch
EMA = 0.995       # the default recipe's average of G's weights (docs/recipes.md)
RECIPES = {
    "paper": {},
    "authors": {
        "wgan": {"warmup": True},
        "wgan-gp": {"betas": (0.5, 0.9), "batch_size": 50},
    },
    # measured best on the MNIST MLPs (docs/recipes.md). wgan, wgan-gp at 30 CPU seconds:
    # more generator updates per second (n_critic 2) and a larger step; beta1 0.5, batch
    # 50, warm-up, N(0, 0.02^2) weights and the conv critic did not help. nsgan (and lsgan,
    # before the average) at the default 5 epochs: Adam 5e-4 (nsgan: 2e-4, 3e-4, 7e-4,
    # 1e-3, TTUR and G 5x D were worse); the minimax gan diverged at 3e-4 and 5e-4 (and,
    # with the average, at 2.5e-4 on one seed of two) and keeps its paper's 2e-4. Every
    # loss but infogan (not measured): samples from the average of G's weights, beta 0.995
    # (Yazici et al. 2019; it changes no training step; benchmarks/averaging.py). With the
    # average, at 5 epochs and three seeds: lsgan 7e-4 beat 5e-4 (27.0 against 38.7;
    # without the average it had diverged on one seed of three at 1e-3), wgan-gp 5e-4 beat
    # 2e-4 (18.9 against 42.2); wgan's clipping bound 0.02 beat the paper's 0.01 (75.8
    # against 97.9; 0.03 was level, 0.005 and 0.05 worse on seed 0)
    "default": {
        "gan": {"ema": EMA},
        "wgan": {"lr": 2e-4, "n_critic": 2, "clip": 0.02, "ema": EMA},
        "wgan-gp": {"lr": 5e-4, "n_critic": 2, "ema": EMA},
        "nsgan": {"lr": 5e-4, "ema": EMA},
        "lsgan": {"lr": 7e-4, "ema": EMA},
    },
}
# the default recipe on the DCGAN pair (--arch dcgan), measured there for nsgan and
# wgan-gp (three seeds, G's own weights): nsgan at Adam 2e-3 beat 1e-3, which beat 5e-4
# and DCGAN's 2e-4, at equal generator steps and at equal CPU time (a decay of the step
# to a tenth was worse); wgan-gp with n_critic 2 made 2.3 times the generator updates of
# the paper's box per CPU second, and at Adam 1e-3 beat 5e-4, which beat the box by a
# factor of ten at 420 s. The other losses keep their papers' setting there
DCGAN_DEFAULT = {"nsgan": {"lr": 2e-3}, "wgan-gp": {"lr": 1e-3, "n_critic": 2}}


def recipe(loss: str, name: str = "default", arch: str = "mlp") -> dict:
    """The options of recipe ``name`` for ``loss`` on the models ``arch`` (as
    ``examples/mnist_gan.py --arch``): trainer overrides and ``batch_size``.

    ``default`` was measured on the MNIST MLPs, and for nsgan and wgan-gp on the DCGAN
    pair (``DCGAN_DEFAULT``); elsewhere it is the paper's setting."""
    checks.choice(loss, "loss", LOSSES, "recipe()")
    checks.choice(name, "recipe", RECIPE_NAMES, "recipe()")
    checks.choice(arch, "arch", ARCHS, "recipe()")
    if name == "default" and arch != "mlp":
        return {"batch_size": BATCH_SIZE, **(DCGAN_DEFAULT.get(loss, {}) if arch == "dcgan"
                                             else {})}
    return {"batch_size": BATCH_SIZE, **RECIPES[name].get(loss, {})}


SGD_DEFAULTS = {"lr": 0.1, "momentum": 0.5, "nesterov": False}   # Goodfellow's mnist.yaml
RMSPROP_DEFAULTS = {"lr": 5e-5, "alpha": 0.99, "eps": 1e-8}
ADAM_DEFAULTS = {"lr": 2e-4, "betas": (0.5, 0.999), "eps": 1e-8}
OPTIMIZER_DEFAULTS = {"adam": ADAM_DEFAULTS, "rmsprop": RMSPROP_DEFAULTS, "sgd": SGD_DEFAULTS}

# Trainer's own options (and defaults)
_TRAINER_KEYS = ("noise", "fake_labels", "separate_batches", "pack", "ema")
_COMMON = ("optimizer", "lr_G", "lr_D", "betas", "momentum", "nesterov", "alpha", "eps",
           *_TRAINER_KEYS)
_ALGORITHM_KEYS = {
    "gan": ("k", "update", "d_loss_scale"), "nsgan": ("k", "update", "d_loss_scale"), "lsgan": ("k", "a", "b", "c"),
    "wgan": ("n_critic", "clip", "warmup"), "wgan-gp": ("n_critic", "lam", "one_sided"),
    "infogan": ("k", "n_cat", "n_cont", "lambda_cat", "lambda_cont"),
}


def make_trainer(loss, G, D, noise_dim=100, conditional=False, n_classes=10, lr=None, seed=0,
                 **overrides):
    """A trainer for ``loss`` in {"gan", "nsgan", "wgan", "wgan-gp", "lsgan", "infogan"} with the
    optimisers (bound to G's and D's parameters) built from the paper defaults
    (``DEFAULTS``).

    ``lr`` sets both learning rates; ``lr_G`` / ``lr_D`` set one. Other overrides:
    ``optimizer`` ("adam" | "rmsprop" | "sgd"), ``betas``, ``momentum``, ``nesterov``,
    ``alpha``, ``eps``; ``noise`` ("normal" | "uniform" | "uniform_sqrt3"), ``fake_labels``
    ("real" | "uniform"), ``separate_batches``, ``pack`` (PacGAN's m: D sees m samples
    concatenated; its input size must be m times the data's), ``ema`` (beta of the
    average of G's weights that ``sample()`` draws from; 0, off); per algorithm: ``k`` (gan,
    nsgan, lsgan), ``update`` ("alternating" | "simultaneous") and ``d_loss_scale`` (gan,
    nsgan),
    ``n_critic``, ``clip``, ``warmup`` (wgan), ``n_critic``, ``lam``, ``one_sided``
    (wgan-gp), ``a``, ``b``, ``c`` (lsgan), ``k``, ``n_cat``, ``n_cont``, ``lambda_cat``,
    ``lambda_cont`` (infogan: G takes noise_dim + n_cat + n_cont inputs, D outputs
    1 + n_cat + n_cont columns). Anything else is a ValueError.
    """
    checks.choice(loss, "loss", LOSSES, "make_trainer")
    allowed = _COMMON + _ALGORITHM_KEYS[loss]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"make_trainer({loss!r}): unknown option(s) {unknown}; accepted: "
                         f"{sorted(allowed)}")
    settings = {**DEFAULTS[loss], **overrides}
    kind, (opt_G, opt_D) = _optimizers(loss, G, D, lr, overrides)
    own = {k: settings[k] for k in _ALGORITHM_KEYS[loss] + _TRAINER_KEYS if k in settings}
    if loss in ("gan", "nsgan"):
        own["generator_loss"] = "minimax" if loss == "gan" else "nonsaturating"
    trainer_class = {"gan": GAN, "nsgan": GAN, "lsgan": LSGAN, "infogan": InfoGAN,
                     "wgan": WGAN, "wgan-gp": WGANGP}[loss]
    trainer = trainer_class(G, D, opt_G, opt_D, noise_dim=noise_dim, conditional=conditional,
                            n_classes=n_classes, seed=seed, **own)
    trainer.config["optimizer"] = {"kind": kind, "G": opt_G.hyperparameter_values(),
                                   "D": opt_D.hyperparameter_values()}
    return trainer


def _optimizers(loss, G, D, lr, overrides):
    """opt_G, opt_D of the chosen kind. Hyperparameters: the overrides, else the paper's
    (when the kind is the paper's optimiser), else that optimiser's own defaults."""
    kind = overrides.get("optimizer", DEFAULTS[loss]["optimizer"])
    checks.choice(kind, "optimizer", OPTIMIZERS, f"make_trainer({loss!r})")
    defaults = dict(OPTIMIZER_DEFAULTS[kind])
    if kind == DEFAULTS[loss]["optimizer"]:
        defaults.update({k: v for k, v in DEFAULTS[loss].items() if k in defaults})
    foreign = sorted(k for k in ("betas", "momentum", "nesterov", "alpha", "eps")
                     if k in overrides and k not in defaults)
    if foreign:
        raise ValueError(f"make_trainer({loss!r}): option(s) {foreign} do not apply to the "
                         f"{kind!r} optimiser (its options: {sorted(defaults)})")
    hyper = {k: overrides.get(k, v) for k, v in defaults.items() if k != "lr"}
    lr = defaults["lr"] if lr is None else lr
    optimizer = {"adam": optim.Adam, "rmsprop": optim.RMSProp, "sgd": optim.SGD}[kind]
    return kind, [optimizer(model.parameters(), lr=overrides.get(f"lr_{name}", lr), **hyper)
                  for model, name in ((G, "G"), (D, "D"))]


__all__ = ["make_trainer", "recipe", "RECIPE_NAMES", "RECIPES", "Trainer", "GAN", "WGAN", "WGANGP",
           "LSGAN", "InfoGAN", "LOSSES", "DEFAULTS", "GENERATOR_LOSSES", "NOISES", "FAKE_LABELS", "OPTIMIZERS"]
