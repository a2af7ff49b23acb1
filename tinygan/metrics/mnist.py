"""MNIST metrics on the features of tinygan's own classifier (tinygan.classifier).

* ``fid``: Frechet distance between the 128-d penultimate features of the samples and of
  the MNIST test (or train) digits.
* ``inception_score``: exp(E_x KL(p(y|x) || p(y))) with the classifier's softmax (10 at
  best: confident and balanced over the digits).
* ``precision_recall_mnist``: k-NN precision/recall (k = 3) in the same feature space.
* ``parzen_mnist``: Goodfellow et al.'s Parzen-window log-likelihood of the 10,000 test
  digits in [0, 1] pixel space, sigma chosen on 1,000 validation digits of MNIST train
  (train[50000:51000], as the authors' code did).
* ``evaluate_mnist``: all of them as a dict of Python floats; ``reference_mnist``: the same
  figures for 10,000 real training digits, the yardstick printed beside a model's.

Samples are images (N, 784) or (N, 1, 28, 28) in [-1, 1], on the host or the device.
The classifier (the weights shipped with tinygan, tinygan.classifier) and the real-data
features are loaded once per process and kept.
"""
from __future__ import annotations

import json
import os

from .. import checks
from ..atomic import atomic_open
from ..backend import asarray, get_array_module
from ..classifier import as_images, load_classifier
from ..data.mnist import cache_dir
from .distances import precision_recall
from .frechet import feature_stats, frechet_distance
from .parzen import PARZEN_SIGMAS, ParzenResult, parzen_log_likelihood, parzen_select_sigma
from .scores import inception_score_from_probs

#: validation digits of the Parzen protocol (authors' code: MNIST train from 50,000, 1,000 of them)
PARZEN_VALID = slice(50000, 51000)
#: samples in the Parzen window (authors: 10,000)
PARZEN_N = 10000

_cache: dict = {}


def _mnist(split):
    """MNIST images (N, 784) in [-1, 1] and labels, host arrays, loaded once."""
    key = ("mnist", split)
    if key not in _cache:
        from ..data import load_mnist   # looked up at call time (tests replace it)
        _cache[key] = load_mnist(split, flatten=True)
    return _cache[key]


def _as_images(samples, where):
    """``samples`` on the backend as float32 (N, 784); clear error for anything else."""
    x = as_images(samples, where).reshape(-1, 784)
    if x.shape[0] < 2:
        raise ValueError(f"{where}: need at least 2 samples, got {x.shape[0]}")
    return x


def _get_classifier(classifier):
    if classifier is not None:
        return classifier
    if "classifier" not in _cache:
        _cache["classifier"] = load_classifier()
    return _cache["classifier"]


def real_outputs(split: str = "test", classifier=None):
    """(features (N, 128), probs (N, 10)) of the real MNIST ``split`` digits, computed once."""
    checks.choice(split, "reference split", ("test", "train"), "real_outputs")
    clf = _get_classifier(classifier)
    key = ("real", split, id(clf))
    if key not in _cache:
        x, _ = _mnist(split)
        _cache[key] = clf.outputs(asarray(x))
    return _cache[key]


def fid(samples, reference: str = "test", classifier=None) -> float:
    """Frechet distance of classifier features: samples vs the MNIST ``reference`` split."""
    clf = _get_classifier(classifier)
    feats, _ = clf.outputs(_as_images(samples, "fid"))
    real, _ = real_outputs(reference, clf)
    return frechet_distance(*feature_stats(feats), *feature_stats(real))


def inception_score(samples, splits: int = 10, classifier=None):
    """(mean, std) over ``splits`` chunks of exp(E_x KL(p(y|x) || p(y))), classifier softmax."""
    _, probs = _get_classifier(classifier).outputs(_as_images(samples, "inception_score"))
    return inception_score_from_probs(probs, splits)


def precision_recall_mnist(samples, reference: str = "test", k: int = 3, classifier=None):
    """k-NN precision/recall (Kynkaanniemi et al. 2019) in classifier feature space,
    against as many reference digits as there are samples (at most the whole split)."""
    clf = _get_classifier(classifier)
    feats, _ = clf.outputs(_as_images(samples, "precision_recall_mnist"))
    real, _ = real_outputs(reference, clf)
    return precision_recall(real[:feats.shape[0]], feats, k=k)


def parzen_mnist(samples, sigmas=PARZEN_SIGMAS, value_range=(-1, 1)) -> ParzenResult:
    """Goodfellow et al. 2014's Parzen log-likelihood of the MNIST test set (nats).

    The window holds the first 10,000 samples mapped to [0, 1] ((x + 1) / 2 for samples in
    [-1, 1]; as they are for ``value_range=(0, 1)``, a sigmoid generator's); sigma is
    chosen from ``sigmas`` on the validation digits; everything in float64 (explicitly:
    exponents reach |x - mu|^2 / (2 sigma^2) ~ 1e4, where float32 would lose the 1e-3
    differences that separate models).
    """
    value_range = tuple(float(v) for v in value_range)
    if value_range not in ((-1.0, 1.0), (0.0, 1.0)):
        raise ValueError(f"parzen_mnist: value_range must be (-1, 1) or (0, 1), got {value_range}")
    mu = _as_images(samples, "parzen_mnist")[:PARZEN_N]
    mu = mu.astype(get_array_module(mu).float64) if value_range == (0.0, 1.0) else \
        _to_unit_float64(mu)
    train, _ = _mnist("train")
    test, _ = _mnist("test")
    sigma, _ = parzen_select_sigma(mu, _to_unit_float64(train[PARZEN_VALID]), sigmas)
    return parzen_log_likelihood(mu, _to_unit_float64(test), sigma)


def _to_unit_float64(x):
    """[-1, 1] images -> [0, 1] pixel space of the Parzen protocol, float64 on the backend."""
    x = asarray(x)
    return (x.astype(get_array_module(x).float64) + 1) / 2


def evaluate_mnist(samples, classifier=None, parzen: bool = True) -> dict:
    """All MNIST metrics of ``samples`` (N, 784) in [-1, 1], as a dict of Python floats:

    fid, inception_score, inception_score_std, precision, recall, and (parzen=True)
    parzen_log_likelihood, parzen_std_error, parzen_sigma; plus n_samples.
    """
    clf = _get_classifier(classifier)
    x = _as_images(samples, "evaluate_mnist")
    feats, probs = clf.outputs(x)
    real, _ = real_outputs("test", clf)
    is_ = inception_score_from_probs(probs, splits=min(10, x.shape[0]))
    pr = precision_recall(real[:feats.shape[0]], feats, k=3)
    out = {
        "n_samples": int(x.shape[0]),
        "fid": frechet_distance(*feature_stats(feats), *feature_stats(real)),
        "inception_score": is_.mean,
        "inception_score_std": is_.std,
        "precision": pr.precision,
        "recall": pr.recall,
    }
    if parzen:
        pz = parzen_mnist(x)
        out.update(parzen_log_likelihood=pz.mean, parzen_std_error=pz.std_error,
                   parzen_sigma=pz.sigma)
    return out


def reference_mnist(n: int = 10000, classifier=None, parzen: bool = True, cache: bool = True) -> dict:
    """``evaluate_mnist`` of ``n`` real MNIST training digits (train[:n]): the figures a
    perfect generator would reach with as many samples.

    With ``cache``, the result is kept as JSON in the user cache, named after the
    classifier's weights (``$XDG_CACHE_HOME/tinygan/metrics/<sha256[:16]>.reference-<n>
    [-noparzen].json``, default ``~/.cache``), so the half minute it costs is paid once.
    """
    n = checks.integer(n, "n", "reference_mnist (the Parzen validation digits start at 50,000)",
                       low=2, high=50000)
    clf = _get_classifier(classifier)
    path = None
    if cache and clf.meta.get("sha256"):
        path = os.path.join(cache_dir("metrics"), f"{clf.meta['sha256'][:16]}.reference-"
                            f"{n}{'' if parzen else '-noparzen'}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    train, _ = _mnist("train")
    out = evaluate_mnist(train[:n], classifier=clf, parzen=parzen)
    if path is not None:
        with atomic_open(path, "w", encoding="utf-8") as f:  # readers see old or whole new
            json.dump(out, f, indent=1, sort_keys=True)
    return out
