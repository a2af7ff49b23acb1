"""Optimisers bound to a model's (param, grad) pairs, updating the params in place.

Update rules: docs/derivations.md, "Optimisers". With g = dL/dtheta (what the layers
accumulated into their grads) and t the step counter (1 at the first step):

    SGD       v <- mu v - lr g;   theta <- theta + v            (mu = 0: theta <- theta - lr g)
              nesterov:           theta <- theta + mu v - lr g  (with the new v)
    RMSProp   r <- alpha r + (1 - alpha) g^2;   theta <- theta - lr g / (sqrt(r) + eps)
    Adam      m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
              m_hat = m / (1 - b1^t);   v_hat = v / (1 - b2^t)
              theta <- theta - lr m_hat / (sqrt(v_hat) + eps)
    ExponentialAverage   theta_bar <- beta theta_bar + (1 - beta) theta   (after each update;
              the parameters themselves are left as they are)

Schedules (``ExponentialDecay``, ``LinearRamp``) attach to any optimiser's
hyperparameter: ``opt.attach("lr", ExponentialDecay(0.1, 1.000004, 1e-6))`` sets
``opt.lr = schedule(t)`` before update t. A schedule is a pure function of the update
count t, which checkpoints hold, so a resumed run follows the same schedule.

Usage (the same arrays the layers own, so the model sees every update)::

    opt = Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad(); model.forward(x); model.backward(dy); opt.step()

Why it looks the way it does:

* Updates are in place (``*=``, ``+=``, ``out=``) into one scratch buffer per dtype,
  allocated once: a step allocates no parameter-sized temporaries.
* Params that lie back to back in one buffer (a flattened model, ``tinygan.nn.flat``)
  are updated as one array: one call per buffer instead of one per param (one CUDA
  kernel instead of one per param). The state arrays are one buffer per run too;
  ``state["m"][i]`` is param i's view of it, so checkpoints keep the names ``m.<i>``.
* State arrays are ``zeros_like`` the params: same device (NumPy or CuPy) and dtype.
  Hyperparameters are kept as Python floats, which never promote a float32 array under
  NumPy 2 (an ``np.float64`` scalar would). So float32 stays float32.
* A step reads no device value back to the host (t and the hyperparameters are
  Python numbers).
* On the GPU each update is one fused kernel per run of params (one per flat buffer)
  instead of up to 13 per parameter array:
  the update functions below (``sgd``, ``sgd_momentum``, ``sgd_nesterov``, ``rmsprop``,
  ``adam``, ``exponential_average``) each have their CUDA body above them, and take the
  scalars that ``_step_scalars`` computes once per step on the host (1 - b1 and friends,
  in double precision, then cast to the arrays' dtype), so the two agree to rounding.
"""
from __future__ import annotations

import contextlib
import math

import numpy

from . import checks, kernels, parallel
from .backend import get_array_module
from .nn import flat


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
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{where}: params[{i}] must be a (param, grad) pair, got "
                            f"{type(pair).__name__}")
        p, g = pair
        for arr, what in ((p, "param"), (g, "grad")):
            if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
                raise TypeError(f"{where}: params[{i}] {what} must be an array, got "
                                f"{type(arr).__name__}")
        checks.float_dtype(p.dtype, f"{where}: params[{i}] param")
        if tuple(p.shape) != tuple(g.shape):
            raise ValueError(f"{where}: params[{i}] param shape {tuple(p.shape)} and grad shape "
                             f"{tuple(g.shape)} differ; expected a (param, grad) pair")
        if p.dtype != g.dtype:
            raise TypeError(f"{where}: params[{i}] param dtype {p.dtype} and grad dtype "
                            f"{g.dtype} differ")
        if p is g:
            raise ValueError(f"{where}: params[{i}] param and grad are the same array")
        if any(p is q for q, _ in pairs[:i]):
            raise ValueError(f"{where}: params[{i}] is listed twice; it would be updated twice")
    return [(p, g) for p, g in pairs]


class Run:
    """Params that lie back to back in one buffer, updated as one array: ``param`` and
    ``grad`` (1-D views over them, or a lone param itself), the optimiser's ``state``
    arrays of the same size by name, and ``work``, a scratch view of that size."""

    def __init__(self, param, grad, state, members):
        self.param, self.grad, self.state, self.work = param, grad, state, None
        self._members = members
        #: a 1-D NumPy run is updated in blocks, which may run in threads (parallel.py)
        self.on_host = param.ndim == 1 and isinstance(param, numpy.ndarray)

    def slice(self, lo, hi):
        """(param, grad, work, state) of elements [lo, hi) of a 1-D run."""
        return (self.param[lo:hi], self.grad[lo:hi], self.work[lo:hi],
                {name: a[lo:hi] for name, a in self.state.items()})

    def state_views(self, name):
        """State array ``name`` cut into views of the members' shapes, in order."""
        views, offset, whole = [], 0, self.state[name].reshape(-1)
        for p in self._members:
            views.append(whole[offset: offset + p.size].reshape(p.shape))
            offset += p.size
        return views


class Optimizer:
    """Base class: binds (param, grad) pairs, owns per-parameter state, the step counter
    ``t`` (a Python int), the hyperparameters (settable, e.g. ``opt.lr = 1e-4`` for a
    schedule, and checked on every assignment) and a scratch buffer.

    Subclasses set ``state_names`` (per-parameter state arrays, named in the update
    equations) and ``hyperparameters`` (name -> its check), implement ``_step_scalars()``
    and either set ``update``, the update function called with the scalars and a run's
    state arrays by name, or override ``_update(p, g, work, state, scalars)``.

    The update is elementwise, so it runs on whole runs (``Run``) of params rather than
    param by param: after ``model.flatten()`` (the builders in ``tinygan.models`` call it)
    a model's params are one run per dtype, updated by one call each.
    """

    state_names: tuple = ()
    hyperparameters = {"lr": checks.positive}

    def __init__(self, params, **hyperparameters):
        self.params = _check_pairs(params, type(self).__name__)
        self._set_hyperparameters(hyperparameters)
        self.t = 0
        self.schedules = {}      # hyperparameter name -> Schedule, applied before each update
        self._runs = [self._make_run(self.params[i:j]) for i, j in flat.runs(self.params)]
        # state[name][i] belongs to params[i]: a view of its run's state array
        self.state = {name: [view for run in self._runs for view in run.state_views(name)]
                      for name in self.state_names}
        self._bind_scratch()

    def _make_run(self, pairs):
        """The params of ``pairs`` (back to back in one buffer, ``flat.runs``) as one
        array, their grads as another, and zero state arrays of that size (zeros: same
        device and dtype)."""
        param, grad = flat.span([p for p, _ in pairs]), flat.span([g for _, g in pairs])
        if param.shape != grad.shape:     # a strided lone param or grad: in its own shape
            param, grad = pairs[0]
        state = {name: get_array_module(param).zeros(param.shape, dtype=param.dtype)
                 for name in self.state_names}
        return Run(param, grad, state, [p for p, _ in pairs])

    def _bind_scratch(self):
        """One scratch buffer per dtype, as long as the largest run; each run works in a
        view of its first entries (the views alias: runs are updated one by one)."""
        longest = {}
        for run in self._runs:
            longest[run.param.dtype] = max(longest.get(run.param.dtype, 0), run.param.size)
        xp = get_array_module(self._runs[0].param)
        scratch = {dtype: xp.empty(size, dtype=dtype) for dtype, size in longest.items()}
        for run in self._runs:
            run.work = scratch[run.param.dtype][: run.param.size].reshape(run.param.shape)

    def __setattr__(self, name, value):
        check = type(self).hyperparameters.get(name)
        if check is not None:
            value = check(value, name, type(self).__name__)
        object.__setattr__(self, name, value)

    def attach(self, name: str, schedule: "Schedule"):
        """Drive hyperparameter ``name`` (a numeric one of ``hyperparameters``, e.g. "lr",
        "momentum") by ``schedule``: before update t it is set to ``schedule(t)``.
        Returns self. One schedule per name; attaching again replaces it."""
        where = f"{type(self).__name__}.attach"
        if not isinstance(schedule, Schedule):
            raise TypeError(f"{where}: expected a tinygan.optim.Schedule, got "
                            f"{type(schedule).__name__}")
        numeric = [k for k, check in self.hyperparameters.items() if check is not checks.boolean]
        if name not in numeric:
            raise ValueError(f"{where}: {type(self).__name__} has no hyperparameter {name!r}; "
                             f"expected one of {numeric}")
        setattr(self, name, schedule(self.t + 1))     # checks the first value now
        self.schedules[name] = schedule
        return self

    def step(self):
        """One update of every param from its grad (grads are not zeroed)."""
        self.t += 1
        for name, schedule in self.schedules.items():
            setattr(self, name, schedule(self.t))
        scalars = self._step_scalars()
        for run in self._runs:
            if run.on_host:    # NumPy: in blocks, over parallel.get_threads() threads
                parallel.for_blocks(run.param.size,
                                    lambda lo, hi: self._update(*run.slice(lo, hi), scalars))
            else:
                self._update(run.param, run.grad, run.work, run.state, scalars)

    def _step_scalars(self) -> dict:
        """The update rule's scalars at step t, computed once per step on the host."""
        raise NotImplementedError

    def _update(self, p, g, work, state, scalars):
        self.update(g, p=p, work=work, **state, **scalars)

    def zero_grad(self):
        """Set every bound grad to 0 (layers accumulate into them with +=)."""
        for run in self._runs:
            run.grad.fill(0)

    # -- hyperparameters and checkpoints -----------------------------------------------
    def hyperparameter_values(self) -> dict:
        """{name: value} of the hyperparameters (Python numbers: JSON-able)."""
        return {name: getattr(self, name) for name in self.hyperparameters}

    def _set_hyperparameters(self, d: dict):
        """Check every hyperparameter in ``d`` before assigning any."""
        where = type(self).__name__
        values = {name: check(d[name], name, where) for name, check in self.hyperparameters.items()}
        self._check_together(values)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _check_together(self, values: dict):
        """Conditions between hyperparameters (each is checked alone already)."""

    def state_dict(self) -> dict:
        """Flat ``{"t": int, "lr": float, <hyperparameters>, "<state>.<i>": array}``.

        Arrays are copies (a snapshot), on the params' device; scalars are Python numbers
        (JSON-friendly). Hyperparameters are included so a resumed schedule continues.
        """
        return {"t": self.t, **self.hyperparameter_values(),
                **{key: a.copy() for key, a in self._named_state()}}

    def _named_state(self):
        """``("<state>.<i>", array)`` for every state array (``m.0``, ``v.3``, ...)."""
        return [(f"{name}.{i}", a) for name, arrays in self.state.items()
                for i, a in enumerate(arrays)]

    def load_state_dict(self, d: dict):
        """Restore ``t``, the hyperparameters and the state arrays (copied in place, cast to
        the params' dtype, host arrays moved to the device). Keys and shapes must match
        this optimiser's own ``state_dict()``; nothing is changed when they do not."""
        where = f"{type(self).__name__}.load_state_dict"
        expected = {"t", *self.hyperparameter_values(), *dict(self._named_state())}
        missing, unexpected = expected - set(d), set(d) - expected
        if unexpected:
            raise ValueError(f"{where}: unexpected keys {sorted(unexpected)}, missing "
                             f"{sorted(missing)} (state of a different optimiser or parameter "
                             "list?)")
        if missing:
            raise KeyError(f"{where}: state is missing {sorted(missing)}")
        for key, dst in self._named_state():
            if tuple(getattr(d[key], "shape", ())) != tuple(dst.shape):
                raise ValueError(f"{where}: {key}: expected shape {tuple(dst.shape)}, "
                                 f"got {tuple(getattr(d[key], 'shape', ()))}")
        t = checks.integer(d["t"], "t", where, low=0)
        self._set_hyperparameters(d)
        self.t = t
        for key, dst in self._named_state():
            dst[...] = get_array_module(dst).asarray(d[key], dtype=dst.dtype)

    def __repr__(self):
        hyper = ", ".join(f"{k}={v}" for k, v in self.hyperparameter_values().items())
        return f"{type(self).__name__}({len(self.params)} params, {hyper}, t={self.t})"


# -- the update rules: in place on theta and the state, each below its fused CUDA body ---
# ``work``: a scratch buffer of theta's shape (a step then allocates nothing).

@kernels.elementwise("T g", "T lr", "T p", "p -= g * lr;")
def sgd(g, lr, p, work=None):
    """theta <- theta - lr g"""
    p -= get_array_module(p).multiply(g, lr, out=work)
    return p


@kernels.elementwise("T g", "T lr, T mu", "T p, T v", """
    v = v * mu - g * lr;                   // v <- mu v - lr g
    p += v;                                // theta <- theta + v
""")
def sgd_momentum(g, lr, mu, p, v, work=None):
    """v <- mu v - lr g;  theta <- theta + v"""
    v *= mu
    v -= get_array_module(p).multiply(g, lr, out=work)
    p += v
    return p, v


@kernels.elementwise("T g", "T lr, T mu", "T p, T v", """
    v = v * mu - g * lr;                   // v <- mu v - lr g
    p = (p - g * lr) + v * mu;             // theta <- theta - lr g + mu v
""")
def sgd_nesterov(g, lr, mu, p, v, work=None):
    """v <- mu v - lr g;  theta <- theta - lr g + mu v (the new v)"""
    xp = get_array_module(p)
    s = xp.multiply(g, lr, out=work)
    v *= mu
    v -= s
    p -= s
    p += xp.multiply(v, mu, out=s)
    return p, v


@kernels.elementwise("T g", "T alpha, T one_minus_alpha, T lr, T eps", "T p, T r", """
    r = r * alpha + (g * g) * one_minus_alpha;   // r <- alpha r + (1 - alpha) g^2
    p -= (g / (sqrt(r) + eps)) * lr;             // theta <- theta - lr g / (sqrt(r) + eps)
""")
def rmsprop(g, alpha, one_minus_alpha, lr, eps, p, r, work=None):
    """r <- alpha r + (1 - alpha) g^2;  theta <- theta - lr g / (sqrt(r) + eps)"""
    xp = get_array_module(p)
    r *= alpha
    s = xp.multiply(g, g, out=work)
    s *= one_minus_alpha
    r += s
    xp.sqrt(r, out=s)
    s += eps
    xp.divide(g, s, out=s)
    s *= lr
    p -= s
    return p, r


@kernels.elementwise(
    "T g", "T b1, T one_minus_b1, T b2, T one_minus_b2, T eps, T step_size, T bias2",
    "T p, T m, T v", """
    m = m * b1 + g * one_minus_b1;               // m <- b1 m + (1 - b1) g
    v = v * b2 + (g * g) * one_minus_b2;         // v <- b2 v + (1 - b2) g^2
    p -= (m / (sqrt(v / bias2) + eps)) * step_size;
""")
def adam(g, b1, one_minus_b1, b2, one_minus_b2, eps, step_size, bias2, p, m, v, work=None):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    theta <- theta - step_size m / (sqrt(v / bias2) + eps), with
    step_size = lr / (1 - b1^t) and bias2 = 1 - b2^t (Kingma & Ba, Alg. 1)"""
    xp = get_array_module(p)
    m *= b1
    s = xp.multiply(g, one_minus_b1, out=work)
    m += s
    v *= b2
    xp.multiply(g, g, out=s)
    s *= one_minus_b2
    v += s
    xp.divide(v, bias2, out=s)                   # v_hat
    xp.sqrt(s, out=s)
    s += eps
    xp.divide(m, s, out=s)                       # m_hat / (sqrt(v_hat) + eps), times
    s *= step_size                               # lr / (1 - b1^t)
    p -= s
    return p, m, v


@kernels.elementwise("T p", "T one_minus_beta", "T a", """
    a += (p - a) * one_minus_beta;     // theta_bar <- theta_bar + (1 - beta)(theta - theta_bar)
""")
def exponential_average(p, one_minus_beta, a, work=None):
    """theta_bar <- theta_bar + (1 - beta) (theta - theta_bar), i.e.
    beta theta_bar + (1 - beta) theta written as one step towards theta"""
    s = get_array_module(p).subtract(p, a, out=work)
    s *= one_minus_beta
    a += s
    return a


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
    hyperparameters = {"lr": checks.positive, "momentum": checks.unit_interval,
                       "nesterov": checks.boolean}

    def __init__(self, params, lr, momentum=0.0, nesterov=False):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov)

    def _check_together(self, values):
        if values["nesterov"] and values["momentum"] == 0:
            raise ValueError("SGD: nesterov=True needs momentum in (0, 1), got momentum=0")

    def _step_scalars(self):
        return {"lr": self.lr} if self.momentum == 0 else {"lr": self.lr, "mu": self.momentum}

    def _update(self, p, g, work, state, scalars):
        if self.momentum == 0:
            sgd(g, p=p, work=work, **scalars)
        else:
            update = sgd_nesterov if self.nesterov else sgd_momentum
            update(g, p=p, v=state["v"], work=work, **scalars)


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton 2012, lecture 6.5), the WGAN optimiser (Arjovsky et al.
    2017, Alg. 1: lr 5e-5).

        r     <- alpha r + (1 - alpha) g^2          (r: running mean of g^2, zeros at t = 0)
        theta <- theta - lr g / (sqrt(r) + eps)

    eps outside the square root, as in PyTorch's RMSprop (which the WGAN authors used).
    lr > 0; 0 <= alpha < 1; eps > 0.
    """

    state_names = ("r",)
    hyperparameters = {"lr": checks.positive, "alpha": checks.unit_interval,
                       "eps": checks.positive}

    def __init__(self, params, lr=5e-5, alpha=0.99, eps=1e-8):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps)

    def _step_scalars(self):
        return {"alpha": self.alpha, "one_minus_alpha": 1 - self.alpha, "lr": self.lr,
                "eps": self.eps}

    update = staticmethod(rmsprop)


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
    hyperparameters = {"lr": checks.positive, "beta1": checks.unit_interval,
                       "beta2": checks.unit_interval, "eps": checks.positive}

    def __init__(self, params, lr=2e-4, betas=(0.5, 0.999), eps=1e-8):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (b1, b2) in [0, 1), got {betas!r}")
        super().__init__(params, lr=lr, eps=eps,
                         beta1=checks.unit_interval(betas[0], "betas[0]", "Adam"),
                         beta2=checks.unit_interval(betas[1], "betas[1]", "Adam"))

    @property
    def betas(self):
        return (self.beta1, self.beta2)

    def _step_scalars(self):
        """The update's scalars at step t: step_size = lr / (1 - b1^t), bias2 = 1 - b2^t."""
        b1, b2, t = self.beta1, self.beta2, self.t
        return {"b1": b1, "one_minus_b1": 1 - b1, "b2": b2, "one_minus_b2": 1 - b2,
                "eps": self.eps, "step_size": self.lr / (1 - b1 ** t), "bias2": 1 - b2 ** t}

    update = staticmethod(adam)


class ExponentialAverage(Optimizer):
    """An exponential moving average of the parameters (Polyak averaging with a decay;
    for GAN generators: Yazici et al. 2019, "The Unusual Effectiveness of Averaging in
    GAN Training"). Call ``step()`` after each update of the optimiser that trains them:

        theta_bar_0 = theta_0;   theta_bar_t = beta theta_bar_(t-1) + (1 - beta) theta_t

    It changes no parameter: the average lives beside them (state ``average``), and
    ``swapped_in()`` puts it into the parameters for sampling. So the trained weights go
    on training, and the averaged ones, which move less from update to update, make the
    samples. theta_bar_t weights theta_(t-j) by (1 - beta) beta^j: it remembers about
    1 / (1 - beta) updates (beta 0.995: 200), and theta_0's weight beta^t has faded after
    a few times that. No gradient is involved; the grads of the pairs are not read.

    An optimiser by construction only: it reuses their runs over flat buffers, blocks
    over threads, fused kernel and checkpoint state (``average.<i>``). 0 <= beta < 1.
    """

    state_names = ("average",)
    hyperparameters = {"beta": checks.unit_interval}

    def __init__(self, params, beta=0.995):
        super().__init__(params, beta=beta)
        for run in self._runs:                           # theta_bar_0 = theta_0
            run.state["average"][...] = run.param

    def _step_scalars(self):
        return {"one_minus_beta": 1 - self.beta}

    def _update(self, p, g, work, state, scalars):
        exponential_average(p, a=state["average"], work=work, **scalars)

    @contextlib.contextmanager
    def swapped_in(self):
        """Inside the block the parameters hold theta_bar; after it, theta again, bit for
        bit (kept in a copy meanwhile)."""
        kept = [run.param.copy() for run in self._runs]
        try:
            for run in self._runs:
                run.param[...] = run.state["average"]
            yield self
        finally:
            for run, theta in zip(self._runs, kept):
                run.param[...] = theta


# -- schedules -------------------------------------------------------------------------

class Schedule:
    """A hyperparameter as a function of the update count: ``schedule(t)`` is its value
    for update t (1 at the first update). Attach with ``Optimizer.attach(name, schedule)``.
    Derivation of the two below: docs/derivations.md, "Optimisers"."""

    def __call__(self, t: int) -> float:
        raise NotImplementedError


class ExponentialDecay(Schedule):
    """value(t) = max(minimum, initial / factor^(t - 1)): divided by ``factor`` after every
    update, never below ``minimum`` (pylearn2's ``ExponentialDecay`` update callback;
    Goodfellow et al. 2014's MNIST run: 0.1, factor 1.000004, minimum 1e-6)."""

    def __init__(self, initial: float, factor: float, minimum: float = 0.0):
        where = "ExponentialDecay"
        self.initial = checks.positive(initial, "initial", where)
        self.factor = checks.real(factor, "factor", where, low=1.0)
        self.minimum = checks.real(minimum, "minimum", where, low=0.0, high=self.initial)

    def __call__(self, t):
        t = checks.integer(t, "t", "ExponentialDecay", low=1)
        # the log form cannot overflow, however large t grows
        return max(self.minimum, self.initial * math.exp(-(t - 1) * math.log(self.factor)))

    def __repr__(self):
        return f"ExponentialDecay({self.initial}, factor={self.factor}, minimum={self.minimum})"


class LinearRamp(Schedule):
    """A value that moves linearly from ``start_value`` to ``final_value`` over epochs:

        e(t)     = (t - 1) // steps_per_epoch + 1                 (1-based epoch of update t)
        alpha    = clip((e - start_epoch) / (saturate_epoch - start_epoch), 0, 1)
        value(t) = start_value + alpha (final_value - start_value)

    so epochs up to ``start_epoch`` use start_value and epochs from ``saturate_epoch``
    use final_value. pylearn2's ``MomentumAdjustor(start=1, saturate=250,
    final_momentum=.7)`` from momentum .5 is ``LinearRamp(.5, .7, 1, 250, batches)``: its
    counter is 1 at the monitor call before the first epoch, so epoch e trains with the
    value for count e.
    """

    def __init__(self, start_value: float, final_value: float, start_epoch: int,
                 saturate_epoch: int, steps_per_epoch: int):
        where = "LinearRamp"
        self.start_value = checks.real(start_value, "start_value", where)
        self.final_value = checks.real(final_value, "final_value", where)
        self.start_epoch = checks.integer(start_epoch, "start_epoch", where, low=1)
        self.saturate_epoch = checks.integer(saturate_epoch, "saturate_epoch", where, low=1)
        self.steps_per_epoch = checks.integer(steps_per_epoch, "steps_per_epoch", where, low=1)
        if self.saturate_epoch <= self.start_epoch:
            raise ValueError(f"{where}: saturate_epoch ({saturate_epoch}) must come after "
                             f"start_epoch ({start_epoch})")

    def epoch(self, t) -> int:
        return (checks.integer(t, "t", "LinearRamp", low=1) - 1) // self.steps_per_epoch + 1

    def __call__(self, t):
        alpha = (self.epoch(t) - self.start_epoch) / (self.saturate_epoch - self.start_epoch)
        alpha = min(1.0, max(0.0, alpha))
        return self.start_value + alpha * (self.final_value - self.start_value)

    def __repr__(self):
        return (f"LinearRamp({self.start_value} -> {self.final_value}, epochs "
                f"{self.start_epoch}..{self.saturate_epoch}, {self.steps_per_epoch} steps/epoch)")
