"""Optimisers: three steps against the update equations written out by hand, dtype and
in-place contracts, state_dict round-trips, hyperparameter and parameter validation."""
import json

import numpy
import pytest

from tinygan import nn
from tinygan.backend import to_numpy
from tinygan.optim import SGD, Adam, ExponentialAverage, ExponentialDecay, RMSProp

SHAPES = [(3, 4), (4,)]
N_STEPS = 3


def _params(rng, xp, dtype):
    """(param, grad) pairs plus a fixed sequence of N_STEPS gradients per param."""
    pairs = [(rng.standard_normal(s).astype(dtype), xp.zeros(s, dtype=dtype)) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(N_STEPS)]
    return pairs, grads


def _reference(kind, hyper, theta0, grads):
    """The update equations, step by step in float64, no in-place tricks."""
    thetas = []
    for j, theta in enumerate(theta0):
        theta = theta.astype("float64")
        a = b = 0 * theta                                   # v / r / (m, v), zeros at t = 0
        for t, gs in enumerate(grads, start=1):
            g = gs[j].astype("float64")
            lr = hyper["lr"]
            if kind == "sgd":
                mu = hyper.get("momentum", 0.0)
                a = mu * a - lr * g                          # v <- mu v - lr g
                if hyper.get("nesterov"):
                    theta = theta + mu * a - lr * g
                else:
                    theta = theta + a
            elif kind == "rmsprop":
                al, eps = hyper["alpha"], hyper["eps"]
                a = al * a + (1 - al) * g * g                # r
                theta = theta - lr * g / ((a ** 0.5) + eps)
            else:
                (b1, b2), eps = hyper["betas"], hyper["eps"]
                a = b1 * a + (1 - b1) * g                    # m
                b = b2 * b + (1 - b2) * g * g                # v
                m_hat, v_hat = a / (1 - b1 ** t), b / (1 - b2 ** t)
                theta = theta - lr * m_hat / (v_hat ** 0.5 + eps)
        thetas.append(theta)
    return thetas


CASES = {
    "sgd": ("sgd", SGD, dict(lr=0.1)),
    "sgd_momentum": ("sgd", SGD, dict(lr=0.1, momentum=0.9)),
    "sgd_nesterov": ("sgd", SGD, dict(lr=0.1, momentum=0.5, nesterov=True)),
    "rmsprop": ("rmsprop", RMSProp, dict(lr=1e-2, alpha=0.9, eps=1e-8)),
    "adam_dcgan": ("adam", Adam, dict(lr=1e-2, betas=(0.5, 0.999), eps=1e-8)),
    "adam_wgan_gp": ("adam", Adam, dict(lr=1e-2, betas=(0.0, 0.9), eps=1e-8)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_three_steps_match_update_equations(xp, rng, case, dtype):
    kind, cls, hyper = CASES[case]
    pairs, grads = _params(rng, xp, dtype)
    theta0 = [p.copy() for p, _ in pairs]
    objects = [p for p, _ in pairs]
    opt = cls(pairs, **hyper)
    for gs in grads:
        for (_, g), g_new in zip(pairs, gs):
            g[...] = g_new
        opt.step()
    assert opt.t == N_STEPS and type(opt.t) is int
    expect = _reference(kind, hyper, theta0, grads)
    tol = 1e-12 if dtype == "float64" else 2e-6
    for (p, _), obj, ref, p0 in zip(pairs, objects, expect, theta0):
        assert p is obj and p.dtype == getattr(xp, dtype)              # in place, dtype kept
        assert float(xp.max(xp.abs(p.astype("float64") - p0))) > 1e-3  # it really moved
        assert float(xp.max(xp.abs(p - ref))) < tol
    for arrays in opt.state.values():
        assert all(a.dtype == getattr(xp, dtype) for a in arrays)


def _flat_copy(pairs, xp):
    """The same (param, grad) values as views into one param and one grad buffer (the
    layout of a flattened model)."""
    size = sum(p.size for p, _ in pairs)
    buffers = [xp.empty(size, dtype=pairs[0][0].dtype) for _ in range(2)]
    flat_pairs, offset = [], 0
    for p, g in pairs:
        views = [b[offset: offset + p.size].reshape(p.shape) for b in buffers]
        views[0][...], views[1][...] = p, g
        flat_pairs.append(tuple(views))
        offset += p.size
    return flat_pairs


@pytest.mark.parametrize("case", list(CASES))
def test_flat_buffer_step_equals_the_per_array_step(xp, rng, case):
    """Params back to back in one buffer are updated as one array (one run): the same
    bits as updating them one by one, and the state keeps its per-param names."""
    _, cls, hyper = CASES[case]
    pairs, grads = _params(rng, xp, "float32")
    flat_pairs = _flat_copy(pairs, xp)
    per_array, flat = cls(pairs, **hyper), cls(flat_pairs, **hyper)
    assert len(per_array._runs) == len(SHAPES) and len(flat._runs) == 1
    for opt in (per_array, flat):
        if cls is not Adam:
            opt.attach("lr", ExponentialDecay(hyper["lr"], 1.5))
    for gs in grads:
        for (_, g), (_, h), g_new in zip(pairs, flat_pairs, gs):
            g[...] = g_new
            h[...] = g_new
        per_array.step()
        flat.step()
    for (p, _), (q, _) in zip(pairs, flat_pairs):
        assert bool(xp.all(p == q))
    a, b = per_array.state_dict(), flat.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert bool(xp.all(xp.asarray(a[key] == b[key]))), key
    flat.zero_grad()
    assert all(float(xp.max(xp.abs(g))) == 0.0 for _, g in flat_pairs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exponential_average_follows_its_recurrence_and_changes_no_param(xp, rng, dtype):
    """theta_bar_0 = theta_0, theta_bar_t = beta theta_bar_(t-1) + (1 - beta) theta_t, in
    float64 by hand, per array and over one flat buffer (the same bits); swapped_in puts
    theta_bar into the params and theta back, bit for bit, even when the block raises."""
    pairs, _ = _params(rng, xp, dtype)
    flat_pairs = _flat_copy(pairs, xp)
    per_array, flat = ExponentialAverage(pairs, beta=0.8), ExponentialAverage(flat_pairs, 0.8)
    assert len(per_array._runs) == len(SHAPES) and len(flat._runs) == 1
    expect = [p.astype("float64") for p, _ in pairs]
    for _ in range(N_STEPS):          # the trained params move; the average follows
        for (p, _), (q, _) in zip(pairs, flat_pairs):
            p[...] = rng.standard_normal(p.shape).astype(dtype)
            q[...] = p
        thetas = [p.copy() for p, _ in pairs]
        per_array.step()
        flat.step()
        expect = [0.8 * b + 0.2 * p.astype("float64") for b, p in zip(expect, thetas)]
        assert same_arrays(xp, [p for p, _ in pairs], thetas)       # no param changed
    tol = 1e-12 if dtype == "float64" else 2e-6
    for a, b, ref in zip(per_array.state["average"], flat.state["average"], expect):
        assert a.dtype == getattr(xp, dtype) and bool(xp.all(a == b))
        assert float(xp.max(xp.abs(a - ref))) < tol
    with pytest.raises(RuntimeError, match="inside"):
        with flat.swapped_in():
            assert same_arrays(xp, [p for p, _ in flat_pairs], flat.state["average"])
            raise RuntimeError("inside")
    assert same_arrays(xp, [p for p, _ in flat_pairs], thetas)
    state = flat.state_dict()
    assert state["t"] == N_STEPS and state["beta"] == 0.8 and "average.1" in state
    again = ExponentialAverage(_flat_copy(pairs, xp), beta=0.8)
    again.load_state_dict(state)
    assert same_arrays(xp, again.state["average"], flat.state["average"])
    with pytest.raises(ValueError, match="beta"):
        ExponentialAverage(pairs, beta=1.0)


def same_arrays(xp, a, b):
    return all(bool(xp.array_equal(u, v)) for u, v in zip(a, b))


def test_strided_and_column_views_update_their_own_elements(xp):
    """Params that are views but not back to back in one C-ordered buffer (a strided
    slice; adjacent columns of a Fortran-ordered array) are each updated alone, and
    only their own elements change."""
    big = xp.zeros((4, 5), dtype=xp.float32)
    p = big[:, :3]
    SGD([(p, xp.ones((4, 3), dtype=xp.float32))], lr=1.0).step()
    assert float(p.sum()) == -12.0 and float(xp.abs(big[:, 3:]).sum()) == 0.0
    fortran = xp.zeros((3, 2), dtype=xp.float32, order="F")
    cols = [fortran[:, 0], fortran[:, 1]]
    opt = SGD([(c, xp.full(3, i + 1.0, dtype=xp.float32)) for i, c in enumerate(cols)], lr=1.0)
    opt.step()
    assert len(opt._runs) == 2
    assert bool(xp.all(fortran == xp.asarray([[-1, -2]] * 3, dtype=xp.float32)))


def test_update_is_seen_by_the_model(xp, rng):
    layer = nn.Linear(3, 2)
    W = layer.params["W"]
    x = rng.standard_normal((5, 3), dtype=xp.float32)
    before = layer.forward(x).copy()
    opt = Adam(layer.parameters(), lr=0.1)
    layer.backward(xp.ones((5, 2), dtype=xp.float32))
    opt.step()
    assert layer.params["W"] is W
    assert float(xp.max(xp.abs(layer.forward(x) - before))) > 1e-2
    opt.zero_grad()
    assert all(float(xp.max(xp.abs(g))) == 0.0 for g in layer.grads.values())


def test_numpy_float64_hyperparameters_keep_float32(xp, rng):
    pairs, grads = _params(rng, xp, "float32")
    for (_, g), g_new in zip(pairs, grads[0]):
        g[...] = g_new
    for opt in (SGD(pairs, lr=numpy.float64(0.1), momentum=numpy.float64(0.5)),
                RMSProp(pairs, lr=numpy.float64(1e-3), alpha=numpy.float64(0.9)),
                Adam(pairs, lr=numpy.float64(1e-3), betas=(numpy.float64(0.5), 0.999))):
        opt.step()
        assert all(p.dtype == xp.float32 for p, _ in pairs)
        assert type(opt.lr) is float


@pytest.mark.parametrize("case", ["sgd_momentum", "sgd_nesterov", "rmsprop", "adam_dcgan"])
def test_state_dict_roundtrip_continues_identically(xp, rng, case):
    _, cls, hyper = CASES[case]
    pairs_a, _ = _params(rng, xp, "float32")
    grads = [[rng.standard_normal(s, dtype=xp.float32) for s in SHAPES] for _ in range(5)]
    opt_a = cls(pairs_a, **hyper)

    def step(opt, pairs, gs):
        for (_, g), g_new in zip(pairs, gs):
            g[...] = g_new
        opt.step()

    for gs in grads[:2]:
        step(opt_a, pairs_a, gs)
    saved = opt_a.state_dict()
    # as a checkpoint would store it: arrays on the host, scalars through JSON
    arrays = {k: to_numpy(v) for k, v in saved.items() if hasattr(v, "shape")}
    scalars = json.loads(json.dumps({k: v for k, v in saved.items() if not hasattr(v, "shape")}))
    pairs_b = [(p.copy(), xp.zeros_like(g)) for p, g in pairs_a]
    other = {"momentum": 0.1} if cls is SGD else {}
    opt_b = cls(pairs_b, lr=0.5, **other)        # different hyperparameters: loaded back
    opt_b.load_state_dict({**arrays, **scalars})
    assert opt_b.t == 2 and opt_b.lr == opt_a.lr
    for gs in grads[2:]:
        step(opt_a, pairs_a, gs)
        step(opt_b, pairs_b, gs)
    for (pa, _), (pb, _) in zip(pairs_a, pairs_b):
        assert bool(xp.all(pa == pb))
    # the state_dict was a snapshot, not a view of the live state
    name = cls.state_names[0]
    assert not bool(xp.all(saved[f"{name}.0"] == opt_a.state[name][0]))


def test_load_state_dict_errors_change_nothing(xp, rng):
    pairs, _ = _params(rng, xp, "float32")
    adam = Adam(pairs)
    good = adam.state_dict()
    with pytest.raises(KeyError, match="missing"):
        adam.load_state_dict({k: v for k, v in good.items() if k != "m.1"})
    with pytest.raises(ValueError, match="unexpected keys"):
        RMSProp(pairs).load_state_dict(good)
    with pytest.raises(ValueError, match=r"m.0: expected shape \(3, 4\)"):
        adam.load_state_dict({**good, "m.0": xp.zeros((4, 3), dtype=xp.float32)})
    with pytest.raises(ValueError, match="t must be an integer >= 0"):
        adam.load_state_dict({**good, "t": -1})
    with pytest.raises(ValueError, match=r"beta1 must lie in \[0, 1\)"):
        adam.load_state_dict({**good, "t": 7, "beta1": 1.5})
    assert adam.t == 0 and adam.beta1 == 0.5


def test_lr_and_momentum_are_settable(xp):
    p, g = xp.zeros(2, dtype=xp.float32), xp.ones(2, dtype=xp.float32)
    opt = SGD([(p, g)], lr=0.1, momentum=0.0)
    opt.step()
    opt.lr, opt.momentum = 0.5, 0.5        # Goodfellow et al.: momentum rises mid-run
    opt.step()                             # v = 0.5 * 0 - 0.5 * 1 (v was untouched at mu = 0)
    opt.step()                             # v = 0.5 * -0.5 - 0.5 = -0.75
    assert [float(a) for a in p] == pytest.approx([-0.1 - 0.5 - 0.75] * 2)
    with pytest.raises(ValueError, match="lr must be > 0"):
        opt.lr = 0.0
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\)"):
        opt.momentum = 1.0
    assert opt.lr == 0.5 and opt.momentum == 0.5


BAD_HYPER = [
    (lambda ps: SGD(ps, lr=0.0), ValueError, "lr must be > 0"),
    (lambda ps: SGD(ps, lr=-1e-3), ValueError, "lr must be > 0"),
    (lambda ps: SGD(ps, lr=float("nan")), ValueError, "lr must be finite"),
    (lambda ps: SGD(ps, lr="0.1"), TypeError, "lr must be a real number"),
    (lambda ps: SGD(ps, lr=0.1, momentum=1.0), ValueError, r"momentum must lie in \[0, 1\)"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.1), ValueError, r"momentum must lie in \[0, 1\)"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), ValueError, "nesterov=True needs momentum"),
    (lambda ps: RMSProp(ps, alpha=1.0), ValueError, r"alpha must lie in \[0, 1\)"),
    (lambda ps: RMSProp(ps, eps=0.0), ValueError, "eps must be > 0"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), ValueError, r"betas\[0\] must lie in \[0, 1\)"),
    (lambda ps: Adam(ps, betas=(0.5, -0.1)), ValueError, r"betas\[1\] must lie in \[0, 1\)"),
    (lambda ps: Adam(ps, betas=0.5), TypeError, "betas must be a pair"),
    (lambda ps: Adam(ps, eps=-1e-8), ValueError, "eps must be > 0"),
]


@pytest.mark.parametrize("make,exc,match", BAD_HYPER)
def test_bad_hyperparameters_raise(xp, make, exc, match):
    pairs = [(xp.zeros(3, dtype=xp.float32), xp.zeros(3, dtype=xp.float32))]
    with pytest.raises(exc, match=match):
        make(pairs)


def test_bad_params_raise(xp):
    f32 = xp.float32
    with pytest.raises(TypeError, match=r"pass model.parameters\(\)"):
        SGD(nn.Linear(2, 2), lr=0.1)
    with pytest.raises(ValueError, match="params is empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\] must be a \(param, grad\) pair"):
        SGD([xp.zeros(3, dtype=f32)], lr=0.1)
    with pytest.raises(ValueError, match=r"shape \(3,\) and grad shape \(4,\) differ"):
        SGD([(xp.zeros(3, dtype=f32), xp.zeros(4, dtype=f32))], lr=0.1)
    with pytest.raises(TypeError, match="dtype float32 and grad dtype float64 differ"):
        SGD([(xp.zeros(3, dtype=f32), xp.zeros(3))], lr=0.1)
    with pytest.raises(TypeError, match="expected a float32 or float64 array"):
        SGD([(xp.zeros(3, dtype=xp.int64), xp.zeros(3, dtype=xp.int64))], lr=0.1)
    p, g = xp.zeros(3, dtype=f32), xp.zeros(3, dtype=f32)
    with pytest.raises(ValueError, match="listed twice"):
        SGD([(p, g), (p, g)], lr=0.1)
