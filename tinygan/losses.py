"""GAN objectives as (value, gradient) functions of scores (logits / critic outputs).

Derivations: docs/derivations.md, "Sigmoid and binary cross-entropy from logits",
"GAN losses", "Wasserstein losses", "Least squares (LSGAN)", "Softmax cross-entropy".

Scores ``s`` are the discriminator's pre-sigmoid outputs (D(x) = sigma(s)) or the
critic's outputs f(x), of shape (m, 1) or (m,). Every loss is a MEAN over the batch
(losses of two batches are the sum of two means, each over its own batch, so the two
batches may differ in size m_r, m_f). Each function returns a named tuple: the value
first, a 0-d array of the scores' dtype (never a Python float: no host-device sync),
then the gradient with respect to each score argument in argument order, each of that
argument's shape and dtype (a two-batch loss takes None for one score to give the other
term alone: D with BatchNorm sees the batches one at a time). Everything is built from softplus(s) = log(1 + e^s) and
sigma(s), evaluated through e^{-|s|} only, so |s| = 1e4 gives finite values and
gradients in float32 and float64.

=======================================  ===================================================
function (paper)                         value (a mean)  /  gradient
=======================================  ===================================================
bce_with_logits(s, t)                    mean[max(s, 0) - s t + log1p(e^{-|s|})]
  (binary cross-entropy of sigma(s))     ds = (sigma(s) - t) / m
gan_discriminator(s_real, s_fake)        mean softplus(-s_real) + mean softplus(s_fake)
  (Goodfellow 2014 eq. 1, negated)       ds_real = -sigma(-s_real)/m_r, ds_fake = sigma(s_fake)/m_f
generator_loss_minimax(s_fake)           mean log(1 - sigma(s_fake)) = -mean softplus(s_fake)
  (eq. 1, G's term)                      ds_fake = -sigma(s_fake) / m
generator_loss_nonsaturating(s_fake)     mean -log sigma(s_fake) = mean softplus(-s_fake)
  (sec. 3, max log D(G(z)))              ds_fake = -sigma(-s_fake) / m
wasserstein_critic(s_real, s_fake)       mean f(G(z)) - mean f(x)
  (Arjovsky 2017 Alg. 1)                 ds_real = -1 / m_r,  ds_fake = 1 / m_f
wasserstein_generator(s_fake)            -mean f(G(z))
  (Alg. 1)                               ds_fake = -1 / m
least_squares_discriminator(             1/2 mean (s_real - b)^2 + 1/2 mean (s_fake - a)^2
  s_real, s_fake, a=0, b=1) (Mao eq. 2)  ds_real = (s_real - b)/m_r, ds_fake = (s_fake - a)/m_f
least_squares_generator(s_fake, c=1)     1/2 mean (s_fake - c)^2
  (Mao 2017 eq. 2)                       ds_fake = (s_fake - c) / m
softmax_cross_entropy(logits, labels)    mean_i [log sum_k e^{l_ik} - l_{i,y_i}]
  (log-sum-exp)                          dlogits = (softmax(l) - onehot(y)) / m
gaussian_nll(mu, c, sigma=1)             mean_i sum_j [(c_ij - mu_ij)^2 / (2 sigma^2)
  (InfoGAN's continuous codes)             + log sigma + 1/2 log 2 pi];  dmu = (mu - c) / (sigma^2 m)
=======================================  ===================================================

All are losses to MINIMISE (descend along the returned gradients).
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from . import checks
from .backend import get_array_module
from .nn.functional import sigmoid, softplus


class LossGrad(NamedTuple):
    """``bce_with_logits``: value (0-d) and ds (shape of s)."""
    value: object
    ds: object


class DiscriminatorLossGrad(NamedTuple):
    """Two-batch losses (D / critic): value (0-d), ds_real, ds_fake."""
    value: object
    ds_real: object
    ds_fake: object


class GeneratorLossGrad(NamedTuple):
    """Generator losses: value (0-d) and ds_fake (shape of s_fake)."""
    value: object
    ds_fake: object


class GaussianLossGrad(NamedTuple):
    """``gaussian_nll``: value (0-d) and dmu (shape of mu)."""
    value: object
    dmu: object


class ClassifierLossGrad(NamedTuple):
    """``softmax_cross_entropy``: value (0-d) and dlogits (m, K)."""
    value: object
    dlogits: object


# -- validation ----------------------------------------------------------------------

def _check_scores(s, name: str, where: str):
    """Scores must be a float32/float64 array of shape (m,) or (m, 1), m >= 1."""
    if not hasattr(s, "shape") or not hasattr(s, "dtype"):
        raise TypeError(f"{where}: {name} must be an array of scores, got {type(s).__name__}")
    checks.float_dtype(s.dtype, f"{where}: {name}")
    shape = tuple(s.shape)
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] == 0:
        raise ValueError(
            f"{where}: {name} must have shape (m,) or (m, 1) with m >= 1, got {shape}"
        )
    return shape[0]


def _two_batches(where, s_real, s_fake, real_term, fake_term) -> DiscriminatorLossGrad:
    """L = real_term(s_real) + fake_term(s_fake), each term ``(value, ds)`` a mean over its
    own batch (``term(s, m)``). Either score may be None: that term is then left out (its
    gradient is None), which gives the per-term gradients of a D that sees the real and
    the fake batch one at a time (BatchNorm)."""
    terms = [None if s is None else term(s, _check_scores(s, name, where))
             for s, term, name in ((s_real, real_term, "s_real"), (s_fake, fake_term, "s_fake"))]
    if s_real is not None and s_fake is not None and s_real.dtype != s_fake.dtype:
        raise TypeError(
            f"{where}: s_real ({s_real.dtype}) and s_fake ({s_fake.dtype}) must have the same "
            "dtype (the loss value takes the scores' dtype)"
        )
    (v_real, ds_real), (v_fake, ds_fake) = (t or (None, None) for t in terms)
    value = v_fake if v_real is None else v_real if v_fake is None else v_real + v_fake
    return DiscriminatorLossGrad(_value(value, s_fake if s_real is None else s_real),
                                 ds_real, ds_fake)


def _mean(a):
    return get_array_module(a).mean(a)


def _over(fresh, d):
    """fresh / d, written over ``fresh`` (an array of our own: no temporary)."""
    fresh /= d
    return fresh


def _value(v, like):
    """The loss value as a 0-d array of the scores' dtype. NumPy turns reductions and
    arithmetic on 0-d arrays into scalars (np.float32); CuPy keeps 0-d device arrays.
    Either way this is no host-device transfer."""
    xp = get_array_module(like)
    return xp.asarray(v, dtype=like.dtype)


# -- binary cross-entropy --------------------------------------------------------------

def bce_with_logits(s, targets) -> LossGrad:
    """Binary cross-entropy of sigma(s) against targets t in [0, 1], a mean over the batch.

    value = 1/m sum_i [ -t_i log sigma(s_i) - (1 - t_i) log(1 - sigma(s_i)) ]
          = 1/m sum_i [ max(s_i, 0) - s_i t_i + log1p(e^{-|s_i|}) ]
    ds_i  = (sigma(s_i) - t_i) / m

    s: (m,) or (m, 1) float. targets: array of s's shape (cast to s's dtype; its values
    are not range-checked, which would cost a device sync) or a Python number in [0, 1].
    """
    where = "bce_with_logits"
    m = _check_scores(s, "s", where)
    xp = get_array_module(s)
    if isinstance(targets, numbers.Real) and not isinstance(targets, bool):
        t = float(targets)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"{where}: targets must lie in [0, 1], got {t}")
    else:
        if not hasattr(targets, "shape"):
            raise TypeError(f"{where}: targets must be an array or a number, got "
                            f"{type(targets).__name__}")
        if tuple(targets.shape) != tuple(s.shape):
            raise ValueError(f"{where}: targets shape {tuple(targets.shape)} does not match "
                             f"scores shape {tuple(s.shape)} (expected equal shapes; "
                             "no broadcasting)")
        t = xp.asarray(targets, dtype=s.dtype)
    value = xp.mean(xp.maximum(s, 0) - s * t + xp.log1p(xp.exp(-xp.abs(s))))
    ds = sigmoid(s)                 # (sigma(s) - t) / m, in sigma's fresh array
    ds -= t
    ds /= m
    return LossGrad(_value(value, s), ds)


# -- Goodfellow et al. 2014 ------------------------------------------------------------

def gan_discriminator(s_real, s_fake) -> DiscriminatorLossGrad:
    """D's loss: Goodfellow et al. 2014 eq. 1 negated (D ascends V, so it descends -V).

    value   = 1/m_r sum_i -log sigma(s_real_i) + 1/m_f sum_j -log(1 - sigma(s_fake_j))
            = mean softplus(-s_real) + mean softplus(s_fake)        (two means, summed)
    ds_real = -sigma(-s_real) / m_r          (= (sigma(s_real) - 1) / m_r)
    ds_fake =  sigma(s_fake) / m_f

    Uses -log sigma(s) = softplus(-s) and -log(1 - sigma(s)) = softplus(s). Equal to
    bce_with_logits(s_real, 1) + bce_with_logits(s_fake, 0). s_real (m_r,) or (m_r, 1),
    s_fake (m_f,) or (m_f, 1), same dtype; either may be None (that term left out).
    """
    return _two_batches("gan_discriminator", s_real, s_fake,
                        lambda s, m: (_mean(softplus(-s)), _over(sigmoid(-s), -m)),
                        lambda s, m: (_mean(softplus(s)), _over(sigmoid(s), m)))


def generator_loss_minimax(s_fake) -> GeneratorLossGrad:
    """G's term of eq. 1, minimised by G: it saturates when D rejects the fakes.

    value   = 1/m sum_j log(1 - sigma(s_fake_j)) = -mean softplus(s_fake)
    ds_fake = -sigma(s_fake) / m

    When s_fake << 0 (D confidently rejects G(z), early in training) sigma(s_fake) ~ 0:
    the gradient vanishes (Goodfellow et al. 2014, sec. 3).
    """
    m = _check_scores(s_fake, "s_fake", "generator_loss_minimax")
    xp = get_array_module(s_fake)
    return GeneratorLossGrad(_value(-xp.mean(softplus(s_fake)), s_fake),
                             _over(sigmoid(s_fake), -m))


def generator_loss_nonsaturating(s_fake) -> GeneratorLossGrad:
    """The non-saturating generator loss (Goodfellow et al. 2014, sec. 3): G maximises
    log D(G(z)) instead of minimising log(1 - D(G(z))); same fixed point, strong
    gradients early.

    value   = 1/m sum_j -log sigma(s_fake_j) = mean softplus(-s_fake)
    ds_fake = -sigma(-s_fake) / m        (~ -1/m when s_fake << 0)

    Equal to bce_with_logits(s_fake, 1).
    """
    m = _check_scores(s_fake, "s_fake", "generator_loss_nonsaturating")
    xp = get_array_module(s_fake)
    return GeneratorLossGrad(_value(xp.mean(softplus(-s_fake)), s_fake),
                             _over(sigmoid(-s_fake), -m))


# -- Arjovsky et al. 2017 --------------------------------------------------------------

def wasserstein_critic(s_real, s_fake) -> DiscriminatorLossGrad:
    """The critic's loss, Arjovsky et al. 2017 Alg. 1 (the critic ascends
    mean f(x) - mean f(G(z)), the Wasserstein estimate, so it descends its negative).

    value   = 1/m_f sum_j f(G(z_j)) - 1/m_r sum_i f(x_i)     (-value estimates W(P_r, P_g))
    ds_real = -1 / m_r        (constant, s_real's shape)
    ds_fake = +1 / m_f
    """
    return _two_batches("wasserstein_critic", s_real, s_fake,
                        lambda s, m: (-_mean(s), get_array_module(s).full_like(s, -1 / m)),
                        lambda s, m: (_mean(s), get_array_module(s).full_like(s, 1 / m)))


def wasserstein_generator(s_fake) -> GeneratorLossGrad:
    """The generator's loss, Arjovsky et al. 2017 Alg. 1: value = -1/m sum_j f(G(z_j)),
    ds_fake = -1 / m (constant, s_fake's shape)."""
    m = _check_scores(s_fake, "s_fake", "wasserstein_generator")
    xp = get_array_module(s_fake)
    return GeneratorLossGrad(_value(-xp.mean(s_fake), s_fake), xp.full_like(s_fake, -1 / m))


# -- Mao et al. 2017 -----------------------------------------------------------------

def least_squares_discriminator(s_real, s_fake, a=0.0, b=1.0) -> DiscriminatorLossGrad:
    """LSGAN discriminator loss, Mao et al. 2017 eq. 2 (targets b for real, a for fake).

    value   = 1/2 mean (s_real - b)^2 + 1/2 mean (s_fake - a)^2     (two means, summed)
    ds_real = (s_real - b) / m_r
    ds_fake = (s_fake - a) / m_f

    s are the raw (linear) discriminator outputs, no sigmoid. The paper's a=0, b=1, c=1
    (eq. 9) are the defaults; a=-1, b=1, c=0 is its Pearson chi^2 choice (eq. 8).
    """
    where = "least_squares_discriminator"
    a, b = checks.real(a, "a", where), checks.real(b, "b", where)

    def squares(target):          # 1/2 mean (s - target)^2 and its gradient (s - target)/m
        def term(s, m):
            r = s - target        # the residuals
            return 0.5 * _mean(r * r), r / m
        return term

    return _two_batches(where, s_real, s_fake, squares(b), squares(a))


def least_squares_generator(s_fake, c=1.0) -> GeneratorLossGrad:
    """LSGAN generator loss, Mao et al. 2017 eq. 2 (G wants D to output c on fakes).

    value   = 1/2 mean (s_fake - c)^2
    ds_fake = (s_fake - c) / m
    """
    where = "least_squares_generator"
    m = _check_scores(s_fake, "s_fake", where)
    xp = get_array_module(s_fake)
    r = s_fake - checks.real(c, "c", where)
    return GeneratorLossGrad(_value(0.5 * xp.mean(r * r), s_fake), r / m)


# -- classifier ------------------------------------------------------------------------

def softmax_cross_entropy(logits, labels, check_range: bool = True) -> ClassifierLossGrad:
    """Mean cross-entropy of softmax(logits) against integer labels (MNIST classifier).

    With the shift M_i = max_k l_ik (log-sum-exp, so exp never overflows):
    value   = 1/m sum_i [ M_i + log sum_k e^{l_ik - M_i} - l_{i,y_i} ]
    dlogits = (softmax(l) - onehot(y)) / m,
              softmax(l)_ik = e^{l_ik - M_i} / sum_k' e^{l_ik' - M_i}

    logits: (m, K) float32/float64; labels: (m,) integer in [0, K). ``check_range``
    verifies the label range, one device->host sync of a boolean; pass False inside
    GPU-bound loops whose labels are known to be valid.
    """
    where = "softmax_cross_entropy"
    if not hasattr(logits, "shape") or not hasattr(logits, "dtype"):
        raise TypeError(f"{where}: logits must be an array, got {type(logits).__name__}")
    checks.float_dtype(logits.dtype, f"{where}: logits")
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"{where}: logits must have shape (m, K) with m, K >= 1, "
                         f"got {tuple(logits.shape)}")
    m, n_classes = logits.shape
    if not hasattr(labels, "dtype") or labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: labels must be an integer array of shape ({m},), got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if tuple(labels.shape) != (m,):
        raise ValueError(f"{where}: labels must have shape ({m},) to match logits "
                         f"{tuple(logits.shape)}, got {tuple(labels.shape)}")
    xp = get_array_module(logits)
    if check_range and bool(xp.any((labels < 0) | (labels >= n_classes))):
        raise ValueError(f"{where}: labels must lie in [0, {n_classes}) for {n_classes} classes")
    rows = xp.arange(m)
    z = logits - xp.max(logits, axis=1, keepdims=True)    # shifted logits, max 0
    e = xp.exp(z)
    sum_e = xp.sum(e, axis=1, keepdims=True)               # in [1, K]
    value = xp.mean(xp.log(sum_e[:, 0]) - z[rows, labels])   # the shift M_i cancels
    dlogits = e / sum_e                                     # softmax
    dlogits[rows, labels] -= 1                              # one entry per row: no scatter-add needed
    dlogits /= m
    return ClassifierLossGrad(_value(value, logits), dlogits)


def gaussian_nll(mu, c, sigma: float = 1.0) -> GaussianLossGrad:
    """Negative log-likelihood of codes c under N(mu, sigma^2 I), a mean over the batch
    (InfoGAN's continuous codes, Chen et al. 2016, with a fixed sigma):

        value = 1/m sum_i sum_j [ (c_ij - mu_ij)^2 / (2 sigma^2) + log sigma + 1/2 log 2 pi ]
        dmu   = (mu - c) / (sigma^2 m)

    mu, c: (m, n) of one float dtype; sigma > 0 (a Python number).
    """
    where = "gaussian_nll"
    for a, name in ((mu, "mu"), (c, "c")):
        if not hasattr(a, "shape") or not hasattr(a, "dtype"):
            raise TypeError(f"{where}: {name} must be an array, got {type(a).__name__}")
        checks.float_dtype(a.dtype, f"{where}: {name}")
    if mu.ndim != 2 or tuple(mu.shape) != tuple(c.shape) or mu.shape[0] == 0:
        raise ValueError(f"{where}: mu and c must have the same shape (m, n), m >= 1; got "
                         f"{tuple(mu.shape)} and {tuple(c.shape)}")
    if mu.dtype != c.dtype:
        raise TypeError(f"{where}: mu ({mu.dtype}) and c ({c.dtype}) must have the same dtype")
    sigma = checks.positive(sigma, "sigma", where)
    xp = get_array_module(mu, c)
    m, n = mu.shape
    r = mu - c
    const = n * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    value = xp.sum(r * r) / (2 * sigma * sigma * m) + const
    return GaussianLossGrad(_value(value, mu), r / (sigma * sigma * m))
