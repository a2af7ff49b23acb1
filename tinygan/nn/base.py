"""The layer protocol and the Sequential container.

Every layer owns two dicts with the same keys: ``params`` (trainable arrays) and
``grads`` (their gradients, same shapes and dtypes, allocated once so optimisers can
bind to them and update in place). ``model.flatten()`` moves a whole model's params into
one buffer per dtype and its grads into another (each array a view of its slice,
``flat.py``), so that an optimiser updates the whole buffer at once. Layers therefore
write into their arrays in place and never rebind them.

First order (every layer)::

    y  = layer.forward(x)                  # caches what backward needs
    dx = layer.backward(dy)                # returns dL/dx; ADDS dL/dparam into grads
    dx = layer.backward(dy, param_grads=False)   # dL/dx only, grads untouched
    None = layer.backward(dy, need_dx=False)     # grads only (a model's first layer:
                                                 # dL/d(input) is often not needed)

Second order (layers that can sit in a gradient-penalty critic), used by
:mod:`tinygan.lipschitz` for the WGAN-GP double backprop (reverse-over-forward; see
docs/derivations.md, "The gradient penalty by double backprop")::

    y_dot          = layer.jvp(x_dot)              # tangent: y_dot = J(x) x_dot, at the
                                                   # point of the last forward; caches x_dot
    dx, dx_dot     = layer.jvp_backward(dy, dy_dot)  # reverse pass through the pair
                                                   # (y, y_dot); ADDS the parameter gradient
                                                   # of the scalar into grads
    dy = None means "exactly zero" (the gradient penalty's seed), so layers skip the
    products with it and may return None for dx; need_dx=False returns (None, None).

The cache lives on the layer, so each ``backward`` follows its own ``forward``.
No method modifies ``dy`` in place.
"""
from __future__ import annotations

from collections import OrderedDict

from ..backend import get_array_module
from . import flat


class PenaltyIncompatibleError(TypeError):
    """This layer cannot sit in a critic under the gradient penalty: it mixes the samples
    of a batch (BatchNorm in training mode) or has no second-order pair (jvp,
    jvp_backward). Raised by the layer itself, by ``lipschitz.gradient_penalty`` and by
    the WGAN-GP trainer, always with the offending layer named
    (docs/derivations.md, "The gradient penalty by double backprop")."""


class Layer:
    """Base class: parameter bookkeeping, train/eval mode, dtype conversion."""

    #: True for layers whose output for one sample depends on the others (BatchNorm):
    #: they cannot take part in a per-sample gradient penalty, and D sees the real and the
    #: fake batch separately when it holds one.
    mixes_samples = False

    def __init__(self):
        self.params: "OrderedDict[str, object]" = OrderedDict()
        self.grads: "OrderedDict[str, object]" = OrderedDict()
        self.training = True

    # -- the protocol -------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        # dx must be a fresh array (or dy itself), never one the layer caches: callers
        # such as the gradient penalty overwrite it in place.
        raise NotImplementedError

    def jvp(self, x_dot):
        raise self._no_second_order("forward-mode tangent (jvp)")

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        raise self._no_second_order("jvp_backward")

    def _no_second_order(self, what: str) -> PenaltyIncompatibleError:
        return PenaltyIncompatibleError(
            f"{type(self).__name__} has no {what}; it cannot be part of a critic whose "
            "gradient penalty is taken by double backprop")

    __call__ = forward

    # -- parameters ---------------------------------------------------------------
    def add_param(self, name: str, value):
        """Register a trainable array and its zero-initialised gradient."""
        self.params[name] = value
        self.grads[name] = get_array_module(value).zeros_like(value)
        return value

    def children(self):
        """The layers this one is made of (Sequential's), each prefixed ``<i>.`` in
        parameter and state names; the methods below walk them after the layer's own."""
        return []

    def _named_children(self, prefix):
        return [(f"{prefix}{i}.", child) for i, child in enumerate(self.children())]

    def parameters(self):
        """``[(param, grad), ...]`` in a stable order (registration order)."""
        return [(p, g) for _, p, g in self.named_parameters()]

    def _parameter_slots(self):
        """``[(layer, name), ...]`` of every parameter, in ``named_parameters`` order."""
        return [(self, k) for k in self.params] + [
            slot for child in self.children() for slot in child._parameter_slots()]

    def flatten(self):
        """Keep every parameter of this layer and its children in one contiguous buffer
        per dtype, and their gradients in another: ``params[k]`` and ``grads[k]`` become
        views of their slices (same shapes, values kept), so an optimiser updates each
        buffer as one array (``flat.py``). Nothing happens when they are already laid
        out so. Returns self. Bind optimisers after this call: arrays taken from the
        layers before it are no longer theirs (this holds for children that were flat
        already too: a Sequential of two flat models moves both into one new buffer).
        The builders in ``tinygan.models`` call it.
        """
        if not flat.is_flat(self.parameters()):
            flat.flatten(list(dict.fromkeys(self._parameter_slots())))  # a shared layer once
        return self

    def named_parameters(self, prefix: str = ""):
        own = [(prefix + k, self.params[k], self.grads[k]) for k in self.params]
        return own + [item for name, child in self._named_children(prefix)
                      for item in child.named_parameters(name)]

    def zero_grad(self):
        for g in self.grads.values():
            g[...] = 0
        for child in self.children():
            child.zero_grad()

    def train(self, mode: bool = True):
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def astype(self, dtype):
        """Convert parameters, gradients and buffers to ``dtype`` (e.g. float64 for
        gradient checks), keeping a flat model flat. Returns self. Optimisers must be
        built after this call."""
        was_flat = flat.is_flat(self.parameters())
        self._convert(dtype)
        return self.flatten() if was_flat else self

    def _convert(self, dtype):
        for k in list(self.params):
            self.params[k] = self.params[k].astype(dtype)
            self.grads[k] = self.grads[k].astype(dtype)
        for name in self.buffer_names():
            setattr(self, name, getattr(self, name).astype(dtype))
        for child in self.children():
            child._convert(dtype)

    def buffer_names(self):
        """Names of non-trainable state arrays saved in checkpoints (BatchNorm stats)."""
        return ()

    def state_dict(self, prefix: str = ""):
        """Parameters and buffers by name (arrays, not copies)."""
        state = {prefix + k: v for k, v in self.params.items()}
        state.update({prefix + b: getattr(self, b) for b in self.buffer_names()})
        for name, child in self._named_children(prefix):
            state.update(child.state_dict(name))
        return state

    def load_state_dict(self, state, prefix: str = ""):
        """Copy arrays from ``state`` into this layer in place; shapes must match."""
        for k, p in self.params.items():
            _copy_into(p, state, prefix + k)
        for b in self.buffer_names():
            _copy_into(getattr(self, b), state, prefix + b)
        for name, child in self._named_children(prefix):
            child.load_state_dict(state, name)

    def _check_dtype(self, x, ref, what="input"):
        if x.dtype != ref.dtype:
            raise TypeError(
                f"{type(self).__name__}: {what} dtype {x.dtype} does not match the layer's "
                f"parameter dtype {ref.dtype}; convert one of them (model.astype(...)) so "
                "that no silent float64 promotion happens"
            )

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


def _copy_into(dst, state, key):
    if key not in state:
        raise KeyError(f"state is missing {key!r}")
    src = state[key]
    if tuple(src.shape) != tuple(dst.shape):
        raise ValueError(f"{key}: expected shape {tuple(dst.shape)}, got {tuple(src.shape)}")
    dst[...] = get_array_module(dst).asarray(src, dtype=dst.dtype)


def _layers(items, where: str) -> list:
    """``items`` as a list, each checked to be a Layer."""
    for i, item in enumerate(items):
        if not isinstance(item, Layer):
            raise TypeError(f"{where}: item {i} is {type(item).__name__}, not a Layer")
    return list(items)


class _Container(Layer):
    """A layer made of the layers ``children()`` returns."""

    @property
    def mixes_samples(self):
        return any(child.mixes_samples for child in self.children())


class Sequential(_Container):
    """``Sequential(l1, l2, ...)``: y = l_n(... l_2(l_1(x))).

    forward:       h_0 = x, h_i = l_i(h_{i-1})
    backward:      dh_{i-1} = l_i.backward(dh_i), from the last layer to the first
    jvp:           hdot_i = l_i.jvp(hdot_{i-1})
    jvp_backward:  (dh_{i-1}, dhdot_{i-1}) = l_i.jvp_backward(dh_i, dhdot_i), reversed
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = _layers(layers, "Sequential")

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def _needs_dx(self, need_dx):
        """need[i]: must layer i form dL/d(its input)? Only if the caller wants dL/dx or a
        layer below i has parameters (a parameter-free first layer, such as the input
        dropout of a discriminator, lets the layer above it skip its dx product)."""
        need, below = [], need_dx
        for layer in self.layers:
            need.append(below)
            below = below or bool(layer.parameters())
        return need

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        need = self._needs_dx(need_dx)
        for i in range(len(self.layers) - 1, -1, -1):
            dy = self.layers[i].backward(dy, param_grads=param_grads, need_dx=need[i])
        return dy

    def jvp(self, x_dot):
        for layer in self.layers:
            x_dot = layer.jvp(x_dot)
        return x_dot

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        need = self._needs_dx(need_dx)
        for i in range(len(self.layers) - 1, -1, -1):
            dy, dy_dot = self.layers[i].jvp_backward(dy, dy_dot, need_dx=need[i])
        return dy, dy_dot

    def children(self):
        return self.layers

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class Heads(_Container):
    """``Heads(h_1, ..., h_n)``: several heads on one input, their outputs side by side
    (InfoGAN's D and Q heads on D's shared body). Each head maps x to (m, out_k):

    forward:       y = [h_1(x), ..., h_n(x)]                           (m, sum_k out_k)
    backward:      dx = sum_k h_k.backward(dy_k),  dy_k = dy[:, cols_k]   (x feeds every
                   head, so the chain rule adds their contributions)
    jvp:           y_dot = [h_1.jvp(x_dot), ..., h_n.jvp(x_dot)]
    jvp_backward:  (dx, dx_dot) = sum_k h_k.jvp_backward(dy_k, dy_dot_k)

    with cols_k the columns of head k. Derivation: docs/derivations.md, "Heads".
    """

    def __init__(self, *heads):
        super().__init__()
        self.heads = _layers(heads, "Heads")
        if len(heads) < 2:
            raise ValueError(f"Heads: give at least two heads, got {len(heads)}")

    def forward(self, x):
        outs = [head.forward(x) for head in self.heads]
        for k, y in enumerate(outs):
            if y.ndim != 2:
                raise ValueError(f"Heads: head {k} returned shape {tuple(y.shape)}; every "
                                 "head must return (m, out_k) rows")
        self._bounds = _column_bounds(outs)
        return get_array_module(x).concatenate(outs, axis=1)

    __call__ = forward

    def _split(self, d):
        return [None if d is None else d[:, a:b] for a, b in self._bounds]

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        dxs = [head.backward(d, param_grads=param_grads, need_dx=need_dx)
               for head, d in zip(self.heads, self._split(dy))]
        return _sum(dxs) if need_dx else None

    def jvp(self, x_dot):
        return get_array_module(x_dot).concatenate([head.jvp(x_dot) for head in self.heads],
                                                   axis=1)

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        pairs = [head.jvp_backward(d, d_dot, need_dx=need_dx) for head, d, d_dot in
                 zip(self.heads, self._split(dy), self._split(dy_dot))]
        if not need_dx:
            return None, None
        return _sum([p[0] for p in pairs]), _sum([p[1] for p in pairs])

    def children(self):
        return self.heads

    def __repr__(self):
        inner = "\n".join(f"  (head {i}) {head!r}" for i, head in enumerate(self.heads))
        return f"Heads(\n{inner}\n)"


def _column_bounds(outs):
    """[(a_k, b_k), ...]: the columns of y that head k wrote."""
    bounds, start = [], 0
    for y in outs:
        bounds.append((start, start + y.shape[1]))
        start += y.shape[1]
    return bounds


def _sum(terms):
    """Sum of the arrays among ``terms`` (None is an exact zero; all None gives None)."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    total = terms[0] + terms[1] if len(terms) > 1 else terms[0].copy()
    for t in terms[2:]:
        total += t
    return total
