"""Test values for every fused op, by op name: ``CASES[name](rng, dtype)`` gives a list of
dicts (inputs, scalars, and the initial values of outputs the body reads) that reach every
branch of the op's body."""
import numpy


def _activation_inputs(rng, dtype):
    """Normal draws plus the edge cases: +-0, tiny, large, +-inf and NaN."""
    a = rng.standard_normal((7, 13)).astype(dtype) * 3
    a.flat[:9] = [0.0, -0.0, 1e-30, -1e-30, 80.0, -80.0, numpy.inf, -numpy.inf, numpy.nan]
    return a


def _unit_outputs(rng, dtype, low):
    """Activation outputs y in [low, 1] (tanh: low = -1; sigmoid: 0), ends included."""
    y = rng.uniform(low, 1, (7, 13)).astype(dtype)
    y.flat[:3] = [low, 1.0, 0.0]
    return y


def _state(rng, dtype, positive=False):
    a = rng.standard_normal((5, 11)).astype(dtype)
    return numpy.abs(a) if positive else a


def _sgd(rng, dtype, momentum=True):
    case = {"g": _state(rng, dtype), "lr": 0.1, "p": _state(rng, dtype)}
    if momentum:
        case.update(mu=0.9, v=_state(rng, dtype))
    return [case]


def _rmsprop(rng, dtype):
    return [{"g": _state(rng, dtype), "alpha": 0.99, "one_minus_alpha": 1 - 0.99, "lr": 5e-5,
             "eps": 1e-8, "p": _state(rng, dtype), "r": _state(rng, dtype, positive=True)}]


def _exponential_average(rng, dtype):
    """beta 0.995 (tinygan's default) and 0 (the average jumps to theta)."""
    return [{"p": _state(rng, dtype), "one_minus_beta": 1 - beta, "a": _state(rng, dtype)}
            for beta in (0.995, 0.0)]


def _adam(rng, dtype):
    cases = []
    for t, (b1, b2) in ((1, (0.5, 0.999)), (7, (0.0, 0.9))):
        cases.append({
            "g": _state(rng, dtype), "b1": b1, "one_minus_b1": 1 - b1, "b2": b2,
            "one_minus_b2": 1 - b2, "eps": 1e-8, "step_size": 2e-4 / (1 - b1 ** t),
            "bias2": 1 - b2 ** t, "p": _state(rng, dtype), "m": _state(rng, dtype),
            "v": _state(rng, dtype, positive=True)})
    return cases


def _per_channel(rng, dtype, c, positive=False):
    v = rng.standard_normal((1, c, 1, 1)).astype(dtype)
    return numpy.abs(v) + dtype.type(0.5) if positive else v


def _batchnorm_forward(rng, dtype):
    return [{"x": rng.standard_normal((4, 3, 5, 2)).astype(dtype),
             "mu": _per_channel(rng, dtype, 3), "inv_sigma": _per_channel(rng, dtype, 3, True),
             "gamma": _per_channel(rng, dtype, 3), "beta": _per_channel(rng, dtype, 3)}]


def _batchnorm_backward(rng, dtype):
    return [{"dy": rng.standard_normal((4, 3, 5, 2)).astype(dtype),
             "xhat": rng.standard_normal((4, 3, 5, 2)).astype(dtype),
             "sum_dy": _per_channel(rng, dtype, 3), "sum_dy_xhat": _per_channel(rng, dtype, 3),
             "g_over_m": _per_channel(rng, dtype, 3), "m": 40}]


def _col2im(rng, dtype):
    cases = []
    # DCGAN's 4x4 / stride 2 / pad 1 on odd sizes, a 3x3 stride-1 same convolution, and a
    # stride-3 kernel smaller than the stride (pixels no offset reaches stay 0).
    for c, h, w, nb, kh, kw, s, p in ((3, 7, 5, 4, 4, 4, 2, 1), (2, 6, 6, 3, 3, 3, 1, 1),
                                      (2, 8, 7, 2, 2, 2, 3, 0)):
        oh, ow = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        cols = rng.standard_normal((c * kh * kw, oh * ow * nb)).astype(dtype)
        cases.append({"cols": cols, "height": h, "width": w, "batch": nb,
                      "kh": kh, "kw": kw, "stride": s, "pad": p, "out_h": oh, "out_w": ow,
                      "image": numpy.empty((c, h, w, nb), dtype=dtype)})
    return cases


CASES = {
    "relu": lambda rng, dtype: [{"a": _activation_inputs(rng, dtype)}],
    "relu_grad": lambda rng, dtype: [{"a": _activation_inputs(rng, dtype)}],
    "leaky_relu": lambda rng, dtype: [{"a": _activation_inputs(rng, dtype), "alpha": 0.2}],
    "leaky_relu_grad": lambda rng, dtype: [{"a": _activation_inputs(rng, dtype), "alpha": 0.2}],
    "sigmoid": lambda rng, dtype: [{"s": _activation_inputs(rng, dtype)}],
    "softplus": lambda rng, dtype: [{"s": _activation_inputs(rng, dtype)}],
    "tanh_grad": lambda rng, dtype: [{"y": _unit_outputs(rng, dtype, -1.0)}],
    "tanh_second": lambda rng, dtype: [{"y": _unit_outputs(rng, dtype, -1.0)}],
    "sigmoid_grad": lambda rng, dtype: [{"y": _unit_outputs(rng, dtype, 0.0)}],
    "sigmoid_second": lambda rng, dtype: [{"y": _unit_outputs(rng, dtype, 0.0)}],
    "sgd": lambda rng, dtype: _sgd(rng, dtype, momentum=False),
    "sgd_momentum": _sgd,
    "sgd_nesterov": _sgd,
    "rmsprop": _rmsprop,
    "adam": _adam,
    "exponential_average": _exponential_average,
    "batchnorm_forward": _batchnorm_forward,
    "batchnorm_backward": _batchnorm_backward,
    "col2im_gather": _col2im,
}


def cases(name, rng, dtype):
    return CASES[name](rng, numpy.dtype(dtype))
