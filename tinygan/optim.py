"""Optimisers bound to a model's (param, grad) pairs, updating the params in place.

Update rules: docs/derivations.md, "Optimisers". With g = dL/dtheta (what the layers
accumulated into their grads) and t the step counter (1 at the first step):

    SGD       v <- mu v - lr g;   theta <- theta + v            (mu = 0: theta <- theta - lr g)
              nesterov:           theta <- theta + mu v - lr g  (with the new v)
    RMSProp   r <- alpha r + (1 - alpha) g^2;   theta <- theta - lr g / (sqrt(r) + eps)
    Adam      m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
              m_hat = m / (1 - b1^t);   v_hat = v / (1 - b2^t)
              theta <- theta - lr m_hat / (sqrt(v_hat) + eps)

Usage (the same arrays the layers own, so the model sees every update)::

    opt = Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad(); model.forward(x); model.backward(dy); opt.step()

Why it looks the way it does:

* Updates are in place (``*=``, ``+=``, ``out=``) into one scratch buffer per dtype,
  allocated once: a step allocates no parameter-sized temporaries.
* State arrays are ``zeros_like`` the params: same device (NumPy or CuPy) and dtype.
  Hyperparameters are kept as Python floats, which never promote a float32 array under
  NumPy 2 (an ``np.float64`` scalar would). So float32 stays float32.
* A step reads no device value back to the host (t and the hyperparameters are
  Python numbers).
* On the GPU each update is one fused kernel per parameter array (``tinygan.kernels``:
  ``sgd``, ``sgd_momentum``, ``sgd_nesterov``, ``rmsprop``, ``adam``), given its
  scalars by ``_kernel_scalars`` (the values the NumPy path below uses; the two paths
  agree bit for bit, tests/test_kernels.py); NumPy runs the in-place array code.
"""
from __future__ import annotations

import math
import numbers

import numpy  # host-side type checks only

from . import kernels
from .backend import check_float_dtype, get_array_module
from .kernels import use_kernels


# -- hyperparameter checks ---------------------------------------------------------------

def _as_float(value, name: str, where: str) -> float:
    """A real number (or a 0-d array read back from a checkpoint) as a Python float."""
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) or getattr(value, "shape", None) == ()
    ):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite, got {value}")
    return value


def _positive(value, name, where) -> float:
    value = _as_float(value, name, where)
    if not value > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {value}")
    return value


def _unit_interval(value, name, where) -> float:
    """A decay rate in [0, 1)."""
    value = _as_float(value, name, where)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{where}: {name} must lie in [0, 1), got {value}")
    return value


def _check_pairs(params, where: str):
    """``params`` must be a non-empty list of (param, grad) float arrays of equal shape
    and dtype, each param listed once (twice would update it twice per step)."""
    if hasattr(params, "parameters") and callable(params.parameters):
        raise TypeError(f"{where}: pass model.parameters() (a list of (param, grad) pairs), "
                        f"not the {type(params).__name__} itself")
    try:
        pairs = list(params)
    except TypeError:
        raise TypeError(f"{where}: params must be a list of (param, grad) pairs, got "
                        f"{type(params).__name__}") from None
    if not pairs:
        raise ValueError(f"{where}: params is empty; nothing to optimise")
    seen = set()
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{where}: params[{i}] must be a (param, grad) pair, got "
                            f"{type(pair).__name__}")
        p, g = pair
        for arr, what in ((p, "param"), (g, "grad")):
            if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
                raise TypeError(f"{where}: params[{i}] {what} must be an array, got "
                                f"{type(arr).__name__}")
        check_float_dtype(p.dtype, f"{where}: params[{i}] param")
        if tuple(p.shape) != tuple(g.shape):
            raise ValueError(f"{where}: params[{i}] param shape {tuple(p.shape)} and grad shape "
                             f"{tuple(g.shape)} differ; expected a (param, grad) pair")
        if p.dtype != g.dtype:
            raise TypeError(f"{where}: params[{i}] param dtype {p.dtype} and grad dtype "
                            f"{g.dtype} differ")
        if p is g:
            raise ValueError(f"{where}: params[{i}] param and grad are the same array")
        if id(p) in seen:
            raise ValueError(f"{where}: params[{i}] is listed twice; it would be updated twice")
        seen.add(id(p))
    return [(p, g) for p, g in pairs]


class Optimizer:
    """Base class: binds (param, grad) pairs, owns per-parameter state, the step counter
    ``t`` (a Python int), the learning rate ``lr`` (settable, for schedules) and a scratch
    buffer.

    Subclasses set ``state_names`` (per-parameter state arrays, named in the update
    equations), implement ``_update(i, p, g, s)`` (s: a scratch array of p's shape) and
    ``_hyperparameters()`` / ``_set_hyperparameters(d)``.
    """

    state_names: tuple = ()

    def __init__(self, params, lr):
        where = type(self).__name__
        self.params = _check_pairs(params, where)
        self.lr = lr
        self.t = 0
        # state[name][i] belongs to params[i]; zeros_like: same device and dtype
        self.state = {
            name: [get_array_module(p).zeros_like(p) for p, _ in self.params]
            for name in self.state_names
        }
        self._scratch = self._make_scratch()

    def _make_scratch(self):
        """One flat buffer per dtype, as long as the largest param; param i works in a
        view of its first p.size entries (the views alias: params are updated one by one)."""
        flat = {}
        for p, _ in self.params:
            key = p.dtype.str
            if key not in flat or flat[key].size < p.size:
                flat[key] = get_array_module(p).empty(p.size, dtype=p.dtype)
        return [flat[p.dtype.str][: p.size].reshape(p.shape) for p, _ in self.params]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _positive(value, "lr", type(self).__name__)

    def step(self):
        """One update of every param from its grad (grads are not zeroed)."""
        self.t += 1
        for i, (p, g) in enumerate(self.params):
            self._update(i, p, g, self._scratch[i])

    def _update(self, i, p, g, s):
        raise NotImplementedError

    def zero_grad(self):
        """Set every bound grad to 0 (layers accumulate into them with +=)."""
        for _, g in self.params:
            g.fill(0)

    # -- checkpoints -----------------------------------------------------------------
    def _hyperparameters(self) -> dict:
        return {"lr": self._lr}

    def _set_hyperparameters(self, d: dict):
        self.lr = d["lr"]

    def state_dict(self) -> dict:
        """Flat ``{"t": int, "lr": float, <hyperparameters>, "<state>.<i>": array}``.

        Arrays are copies (a snapshot), on the params' device; scalars are Python numbers
        (JSON-friendly). Hyperparameters are included so a resumed schedule continues.
        """
        d = {"t": self.t, **self._hyperparameters()}
        for name, arrays in self.state.items():
            for i, a in enumerate(arrays):
                d[f"{name}.{i}"] = a.copy()
        return d

    def load_state_dict(self, d: dict):
        """Restore ``t``, the hyperparameters and the state arrays (copied in place, cast to
        the params' dtype, host arrays moved to the device). Keys and shapes must match
        this optimiser's own ``state_dict()``; nothing is changed when they do not."""
        where = f"{type(self).__name__}.load_state_dict"
        expected = set(self.state_dict_keys())
        missing, unexpected = expected - set(d), set(d) - expected
        if unexpected:
            raise ValueError(f"{where}: unexpected keys {sorted(unexpected)}, missing "
                             f"{sorted(missing)} (state of a different optimiser or parameter "
                             "list?)")
        if missing:
            raise KeyError(f"{where}: state is missing {sorted(missing)}")
        for name, arrays in self.state.items():
            for i, dst in enumerate(arrays):
                src = d[f"{name}.{i}"]
                if tuple(getattr(src, "shape", ())) != tuple(dst.shape):
                    raise ValueError(f"{where}: {name}.{i}: expected shape {tuple(dst.shape)}, "
                                     f"got {tuple(getattr(src, 'shape', ()))}")
        t = d["t"]
        if isinstance(t, bool) or not (isinstance(t, numbers.Integral) or
                                       getattr(t, "shape", None) == ()) or int(t) != t or t < 0:
            raise ValueError(f"{where}: t must be an integer >= 0, got {t!r}")
        self._set_hyperparameters(d)     # validates all before assigning any
        self.t = int(t)
        for name, arrays in self.state.items():
            for i, dst in enumerate(arrays):
                dst[...] = get_array_module(dst).asarray(d[f"{name}.{i}"], dtype=dst.dtype)

    def state_dict_keys(self):
        keys = ["t", *self._hyperparameters()]
        keys += [f"{name}.{i}" for name in self.state for i in range(len(self.params))]
        return keys

    def __repr__(self):
        hyper = ", ".join(f"{k}={v}" for k, v in self._hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} params, {hyper}, t={self.t})"


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball or Nesterov) momentum.

        v     <- mu v - lr g                       (v: the velocity, zeros at t = 0)
        theta <- theta + v                         (momentum; mu = 0: theta - lr g)
        theta <- theta + mu v - lr g               (nesterov=True, v the new velocity)

    The velocity form of Sutskever et al. 2013 (PyTorch's buffer b = -v / lr gives the
    same trajectory for a constant lr). Goodfellow et al. 2014 trained their MNIST GAN
    with momentum 0.5 rising to 0.7: ``momentum`` is settable like ``lr``, and v is kept
    (zeros, untouched while mu = 0) so momentum can be switched on mid-run.

    lr > 0; 0 <= momentum < 1; nesterov needs momentum > 0.
    """

    state_names = ("v",)

    def __init__(self, params, lr, momentum=0.0, nesterov=False):
        super().__init__(params, lr)
        self.momentum = momentum
        self.nesterov = self._check_nesterov(nesterov, self._momentum)

    def _check_nesterov(self, nesterov, momentum):
        if not isinstance(nesterov, (bool, numpy.bool_)):
            raise TypeError(f"SGD: nesterov must be a bool, got {type(nesterov).__name__}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum in (0, 1), got momentum=0")
        return bool(nesterov)

    @property
    def momentum(self) -> float:
        return self._momentum

    @momentum.setter
    def momentum(self, value):
        self._momentum = _unit_interval(value, "momentum", "SGD")

    def _kernel_scalars(self):
        return {"lr": self._lr} if self._momentum == 0 else {"lr": self._lr,
                                                              "mu": self._momentum}

    def _update(self, i, p, g, s):
        if use_kernels(p):
            if self._momentum == 0:
                kernels.sgd(g=g, p=p, **self._kernel_scalars())
            else:
                op = kernels.sgd_nesterov if self.nesterov else kernels.sgd_momentum
                op(g=g, p=p, v=self.state["v"][i], **self._kernel_scalars())
            return
        xp = get_array_module(p)
        lr, mu = self._lr, self._momentum
        xp.multiply(g, lr, out=s)            # s = lr g
        if mu == 0:
            p -= s                           # theta <- theta - lr g
            return
        v = self.state["v"][i]
        v *= mu
        v -= s                               # v <- mu v - lr g
        if self.nesterov:
            p -= s                           # theta <- theta - lr g ...
            xp.multiply(v, mu, out=s)
            p += s                           #                       ... + mu v
        else:
            p += v                           # theta <- theta + v

    def _hyperparameters(self):
        return {"lr": self._lr, "momentum": self._momentum, "nesterov": self.nesterov}

    def _set_hyperparameters(self, d):
        lr = _positive(d["lr"], "lr", "SGD")
        mu = _unit_interval(d["momentum"], "momentum", "SGD")
        nesterov = self._check_nesterov(d["nesterov"], mu)
        self._lr, self._momentum, self.nesterov = lr, mu, nesterov


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton 2012, lecture 6.5), the WGAN optimiser (Arjovsky et al.
    2017, Alg. 1: lr 5e-5).

        r     <- alpha r + (1 - alpha) g^2          (r: running mean of g^2, zeros at t = 0)
        theta <- theta - lr g / (sqrt(r) + eps)

    eps outside the square root, as in PyTorch's RMSprop (which the WGAN authors used).
    lr > 0; 0 <= alpha < 1; eps > 0.
    """

    state_names = ("r",)

    def __init__(self, params, lr=5e-5, alpha=0.99, eps=1e-8):
        super().__init__(params, lr)
        self.alpha = _unit_interval(alpha, "alpha", "RMSProp")
        self.eps = _positive(eps, "eps", "RMSProp")

    def _kernel_scalars(self):
        return {"alpha": self.alpha, "one_minus_alpha": 1 - self.alpha, "lr": self._lr,
                "eps": self.eps}

    def _update(self, i, p, g, s):
        r = self.state["r"][i]
        if use_kernels(p):
            kernels.rmsprop(g=g, p=p, r=r, **self._kernel_scalars())
            return
        xp = get_array_module(p)
        r *= self.alpha
        xp.multiply(g, g, out=s)
        s *= 1 - self.alpha
        r += s                               # r <- alpha r + (1 - alpha) g^2
        xp.sqrt(r, out=s)
        s += self.eps
        xp.divide(g, s, out=s)
        s *= self._lr
        p -= s                               # theta <- theta - lr g / (sqrt(r) + eps)

    def _hyperparameters(self):
        return {"lr": self._lr, "alpha": self.alpha, "eps": self.eps}

    def _set_hyperparameters(self, d):
        lr = _positive(d["lr"], "lr", "RMSProp")
        alpha = _unit_interval(d["alpha"], "alpha", "RMSProp")
        eps = _positive(d["eps"], "eps", "RMSProp")
        self._lr, self.alpha, self.eps = lr, alpha, eps


class Adam(Optimizer):
    """Adam, Kingma & Ba 2015, Algorithm 1 (bias-corrected moments).

        m     <- b1 m + (1 - b1) g                  (first moment, zeros at t = 0)
        v     <- b2 v + (1 - b2) g^2                (second raw moment, zeros at t = 0)
        m_hat  = m / (1 - b1^t);   v_hat = v / (1 - b2^t)
        theta <- theta - lr m_hat / (sqrt(v_hat) + eps)

    Defaults are DCGAN's (Radford et al. 2016): lr 2e-4, betas (0.5, 0.999). WGAN-GP uses
    lr 1e-4, betas (0, 0.9) (Gulrajani et al. 2017, Alg. 1). lr > 0; b1, b2 in [0, 1);
    eps > 0.
    """

    state_names = ("m", "v")

    def __init__(self, params, lr=2e-4, betas=(0.5, 0.999), eps=1e-8):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (b1, b2) in [0, 1), got {betas!r}")
        self.beta1 = _unit_interval(betas[0], "betas[0]", "Adam")
        self.beta2 = _unit_interval(betas[1], "betas[1]", "Adam")
        self.eps = _positive(eps, "eps", "Adam")

    @property
    def betas(self):
        return (self.beta1, self.beta2)

    def _kernel_scalars(self):
        """The update's scalars at step t: step_size = lr / (1 - b1^t), bias2 = 1 - b2^t."""
        b1, b2, t = self.beta1, self.beta2, self.t
        return {"b1": b1, "one_minus_b1": 1 - b1, "b2": b2, "one_minus_b2": 1 - b2,
                "eps": self.eps, "step_size": self._lr / (1 - b1 ** t), "bias2": 1 - b2 ** t}

    def _update(self, i, p, g, s):
        m, v = self.state["m"][i], self.state["v"][i]
        if use_kernels(p):
            kernels.adam(g=g, p=p, m=m, v=v, **self._kernel_scalars())
            return
        xp = get_array_module(p)
        b1, b2, t = self.beta1, self.beta2, self.t
        m *= b1
        xp.multiply(g, 1 - b1, out=s)
        m += s                               # m <- b1 m + (1 - b1) g
        v *= b2
        xp.multiply(g, g, out=s)
        s *= 1 - b2
        v += s                               # v <- b2 v + (1 - b2) g^2
        xp.divide(v, 1 - b2 ** t, out=s)     # v_hat
        xp.sqrt(s, out=s)
        s += self.eps
        xp.divide(m, s, out=s)               # m / (sqrt(v_hat) + eps)
        s *= self._lr / (1 - b1 ** t)        # lr m_hat / (sqrt(v_hat) + eps)
        p -= s

    def _hyperparameters(self):
        return {"lr": self._lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _set_hyperparameters(self, d):
        lr = _positive(d["lr"], "lr", "Adam")
        b1 = _unit_interval(d["beta1"], "beta1", "Adam")
        b2 = _unit_interval(d["beta2"], "beta2", "Adam")
        eps = _positive(d["eps"], "eps", "Adam")
        self._lr, self.beta1, self.beta2, self.eps = lr, b1, b2, eps
