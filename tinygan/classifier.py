"""The MNIST classifier behind tinygan's sample-quality metrics, built from tinygan's own
layers, trained once and shipped with the package. Its loss: docs/derivations.md,
"Softmax cross-entropy"; what its features feed: docs/derivations.md, "Evaluation metrics".

Architecture (x in [-1, 1], N x 1 x 28 x 28):

    Conv2d(1, 16, 5, s2, p2) - ReLU                 -> N x 16 x 14 x 14
    Conv2d(16, 32, 5, s2, p2) - ReLU                -> N x 32 x 7 x 7
    Flatten - Linear(1568, 128) - ReLU              -> N x 128   the features (FID, P/R)
    Linear(128, 10)                                 -> N x 10    logits; softmax for the IS

Two strided 5x5 convolutions instead of a deeper net: on two idle CPU cores an epoch
takes about 20 s, and five epochs give 98.9% test accuracy (>= 98.5% is required; more
epochs plateau at 99.0%).

Training: mean softmax cross-entropy (``losses.softmax_cross_entropy``) with Adam
(lr 1e-3, times 0.7 after each epoch, betas (0.9, 0.999)), batch 64, 5 epochs over
MNIST train, seed 0.

Shipped weights: ``tinygan/weights/mnist_classifier.npz`` (written by
``tinygan.checkpoint.save``: a plain .npz, loaded with ``allow_pickle=False``), the
network trained once with this recipe. Its SHA-256 is pinned in :data:`SHIPPED_SHA256`
and checked at every load, so every user's FID and score come from the same network and
are comparable between machines. The file's meta records the architecture/recipe hash,
the test accuracy and the training time. Every load also re-measures the test accuracy,
prints it and refuses a classifier below 98.5%.

Training stays a command (about 40 s to a few minutes on a CPU):

    python -m tinygan.classifier --out my_classifier.npz

and ``load_classifier("my_classifier.npz")`` (``examples/evaluate.py --classifier``)
uses such a file instead of the shipped one; its figures are then not comparable with
those of the shipped network.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import NamedTuple

from . import checkpoint, checks, losses, nn, optim
from .backend import DEFAULT_DTYPE, asarray, get_array_module, get_backend, make_rng
from .data.batches import Minibatches
from .data.mnist import sha256_file as file_sha256  # the shipped weights' check

#: layer specs; the hash of (ARCH, RECIPE) names the cache file
ARCH = (
    ("conv", 1, 16, 5, 2, 2), ("relu",),
    ("conv", 16, 32, 5, 2, 2), ("relu",),
    ("flatten",), ("linear", 32 * 7 * 7, 128), ("relu",),
    ("linear", 128, 10),
)
#: the first FEATURE_LAYERS layers map an image to its 128-d feature vector
FEATURE_LAYERS = 7
N_FEATURES, N_CLASSES = 128, 10
RECIPE = {"epochs": 5, "batch_size": 64, "lr": 1e-3, "lr_decay": 0.7, "betas": [0.9, 0.999],
          "seed": 0, "init": "he", "data": "mnist-train-60000", "version": 2}
#: the least test accuracy a shipped or freshly trained classifier may have
MIN_ACCURACY = 0.985
#: the weights shipped in the package, and their SHA-256
SHIPPED_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights",
                            "mnist_classifier.npz")
SHIPPED_SHA256 = "c28a666adc63d3f31a8a1c5a1bcd405c4eadc4eaa3bc285d4f3a8b9c5a7a95e3"


def arch_hash() -> str:
    """16 hex digits of SHA-256 over the architecture and the training recipe."""
    text = json.dumps({"arch": ARCH, "recipe": RECIPE}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def build_network(seed: int = 0, dtype=DEFAULT_DTYPE) -> nn.Sequential:
    """The untrained network of ARCH on the current backend (He init, seeded)."""
    rng, init = make_rng(seed), RECIPE["init"]
    layer = {"conv": lambda *a: nn.Conv2d(*a, init=init, rng=rng, dtype=dtype),
             "linear": lambda *a: nn.Linear(*a, init=init, rng=rng, dtype=dtype),
             "relu": nn.ReLU, "flatten": nn.Flatten}
    return nn.Sequential(*(layer[kind](*args) for kind, *args in ARCH)).flatten()  # one rng, in order


def as_images(x, where: str = "MNIST classifier"):
    """(N, 784) or (N, 1, 28, 28) -> (N, 1, 28, 28) on the backend, float32; a clear
    error (naming ``where``) for any other shape."""
    x = asarray(x)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 1, 28, 28)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{where}: expected images of shape (N, 784) or (N, 1, 28, 28) "
                         f"in [-1, 1], got {tuple(x.shape)}")
    return x.astype(get_array_module(x).float32, copy=False)


class ClassifierOutputs(NamedTuple):
    features: object  # (N, 128) penultimate ReLU activations
    probs: object     # (N, 10) softmax of the logits


class MNISTClassifier:
    """The trained network with batched inference (eval mode, no gradients kept).

    ``outputs(x)`` -> (features (N, 128), probs (N, 10)); ``logits(x)``, ``predict(x)``,
    ``accuracy(x, y)``. ``meta`` holds what the checkpoint recorded (test accuracy, ...).
    """

    def __init__(self, net: nn.Sequential, meta: dict | None = None, batch_size: int = 1000):
        self.net = net.eval()
        self.meta = dict(meta or {})
        self.batch_size = batch_size
        self.head = nn.Sequential(*net.layers[:FEATURE_LAYERS])
        self.top = nn.Sequential(*net.layers[FEATURE_LAYERS:])

    def _batches(self, x):
        x = as_images(x)
        for start in range(0, x.shape[0], self.batch_size):
            yield x[start:start + self.batch_size]

    def outputs(self, x) -> ClassifierOutputs:
        """Features and softmax probabilities of images x, ``batch_size`` at a time.

            h = head(x) (N, 128),   s = top(h) (N, 10),
            p = exp(s - max s) / sum exp(s - max s)    (stable softmax)
        """
        feats, probs, xp = [], [], get_backend()
        for xb in self._batches(x):
            h = self.head.forward(xb)
            s = self.top.forward(h)
            e = xp.exp(s - s.max(axis=1, keepdims=True))
            feats.append(h)
            probs.append(e / e.sum(axis=1, keepdims=True))
        return ClassifierOutputs(xp.concatenate(feats), xp.concatenate(probs))

    def logits(self, x):
        """(N, 10) logits, batched."""
        parts = [self.net.forward(xb) for xb in self._batches(x)]
        return get_array_module(parts[0]).concatenate(parts)

    def predict(self, x):
        """(N,) predicted digits (device int array)."""
        return self.logits(x).argmax(axis=1)

    def accuracy(self, x, y) -> float:
        """Share of correct predictions, a Python float."""
        return float((self.predict(x) == asarray(y)).mean())


class TrainResult(NamedTuple):
    classifier: MNISTClassifier
    losses: list     # mean training loss of each epoch (Python floats)
    seconds: float


def train_classifier(x, y, epochs: int | None = None, batch_size: int | None = None,
                     lr: float | None = None, lr_decay: float | None = None,
                     seed: int | None = None, log=print, log_every: int = 100,
                     on_epoch=None) -> TrainResult:
    """Train a fresh network on images x (N, 784) in [-1, 1] and labels y (N,) with mean
    softmax cross-entropy and Adam; lr is multiplied by ``lr_decay`` after each epoch.
    Arguments left at None take their value from RECIPE. ``on_epoch(epoch, classifier)``
    is called after each epoch (e.g. to measure held-out accuracy).

    One step on a minibatch (x_b, y_b) of m images:

        s = net(x_b);  L = 1/m sum_i -log softmax(s_i)[y_i];  ds = (softmax(s) - onehot(y_b)) / m
        grads = net.backward(ds);  Adam step
    """
    given = dict(epochs=epochs, batch_size=batch_size, lr=lr, lr_decay=lr_decay, seed=seed)
    epochs, batch_size, lr, lr_decay, seed = (RECIPE[k] if v is None else v
                                              for k, v in given.items())
    epochs = checks.integer(epochs, "epochs", "train_classifier", low=1)
    batch_size = checks.integer(batch_size, "batch_size", "train_classifier", low=1)
    net = build_network(seed).train()
    opt = optim.Adam(net.parameters(), lr=lr, betas=tuple(RECIPE["betas"]))
    batches = Minibatches(x, y, batch_size=batch_size, seed=seed)
    start, epoch_losses = time.time(), []
    for epoch in range(epochs):
        total = None
        for step, (xb, yb) in enumerate(batches.epoch()):
            opt.zero_grad()
            loss, dlogits = losses.softmax_cross_entropy(net.forward(as_images(xb)), yb,
                                                         check_range=False)
            net.backward(dlogits)
            opt.step()
            total = loss if total is None else total + loss  # stays on the device
            if log and log_every and (step + 1) % log_every == 0:
                log(f"  classifier epoch {epoch + 1}/{epochs} step {step + 1}/{len(batches)} "
                    f"loss {float(loss):.4f} ({time.time() - start:.0f} s)")
        epoch_losses.append(float(total) / len(batches))
        if log:
            log(f"  classifier epoch {epoch + 1}/{epochs}: mean loss {epoch_losses[-1]:.4f} "
                f"({time.time() - start:.0f} s)")
        opt.lr *= lr_decay
        if on_epoch is not None:
            on_epoch(epoch + 1, MNISTClassifier(net))
            net.train()
    return TrainResult(MNISTClassifier(net.eval()), epoch_losses, time.time() - start)


def _check_accuracy(clf: MNISTClassifier, where: str, log) -> float:
    from .data import load_mnist

    x_test, y_test = load_mnist("test")
    acc = clf.accuracy(x_test, y_test)
    if log:
        log(f"MNIST classifier ({where}): test accuracy {100 * acc:.2f}%")
    if acc < MIN_ACCURACY:
        raise RuntimeError(
            f"MNIST classifier ({where}) reaches only {100 * acc:.2f}% test accuracy; at least "
            f"{100 * MIN_ACCURACY:.1f}% is required for meaningful metrics"
        )
    return acc


def weights_path() -> str:
    """The file of the shipped weights (what ``load_classifier()`` reads)."""
    return SHIPPED_PATH


def load_classifier(path: str | None = None, log=print) -> MNISTClassifier:
    """The classifier of the metrics: the shipped weights (``path`` None; their SHA-256
    must equal :data:`SHIPPED_SHA256`) or a file written by :func:`train_and_save`.
    Loaded without pickle and verified: its test accuracy is measured, printed and must
    be >= 98.5%. ``meta["sha256"]`` names the weights (the metrics' caches use it)."""
    shipped = path is None
    path = SHIPPED_PATH if shipped else os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no MNIST classifier weights at {path}"
            + (" (the package is incomplete: reinstall tinygan)" if shipped else
               " (python -m tinygan.classifier --out FILE trains and writes one)"))
    sha = file_sha256(path)
    if shipped and sha != SHIPPED_SHA256:
        raise ValueError(f"{path}: SHA-256 {sha} is not that of the shipped classifier "
                         f"({SHIPPED_SHA256}); the file is corrupt or was replaced: reinstall "
                         "tinygan")
    arrays, meta = checkpoint.load(path)  # allow_pickle=False inside
    if meta.get("arch_hash") != arch_hash():
        raise ValueError(f"{path}: classifier was saved for architecture/recipe "
                         f"{meta.get('arch_hash')!r}, this tinygan expects {arch_hash()!r}")
    net = build_network(RECIPE["seed"])
    net.load_state_dict(arrays)
    clf = MNISTClassifier(net, {**meta, "sha256": sha, "path": path})
    _check_accuracy(clf, "shipped" if shipped else path, log)
    return clf


def train_and_save(path, x=None, y=None, log=print) -> MNISTClassifier:
    """Train a classifier with RECIPE (on MNIST train unless images x and labels y are
    given), check its test accuracy and write it to ``path`` (atomic, no pickle)."""
    if x is None:
        from .data import load_mnist

        x, y = load_mnist("train")
    result = train_classifier(x, y, log=log)
    clf = result.classifier
    acc = _check_accuracy(clf, "freshly trained", log)
    clf.meta = {"arch_hash": arch_hash(), "arch": [list(a) for a in ARCH], "recipe": RECIPE,
                "test_accuracy": acc, "train_seconds": result.seconds,
                "epoch_losses": result.losses}
    checkpoint.save(path, clf.net.state_dict(), clf.meta)
    if log:
        log(f"MNIST classifier written to {path} ({os.path.getsize(path)} bytes, SHA-256 "
            f"{file_sha256(path)}; trained in {result.seconds:.0f} s)")
    return clf


def main(argv=None) -> int:
    """``python -m tinygan.classifier --out FILE``: train the metrics' classifier."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m tinygan.classifier",
                                description="Train tinygan's MNIST classifier (the network "
                                            "behind FID and the Inception-style score) with "
                                            "its fixed recipe and write it as a .npz.")
    p.add_argument("--out", required=True, help="the .npz to write")
    train_and_save(p.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
