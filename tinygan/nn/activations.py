"""Elementwise activations y = phi(a). Derivations: docs/derivations.md, "Activations".

Every activation supplies phi, phi' and phi'' (all shapes equal to a's, any shape):

    forward        y      = phi(a)
    backward       da     = dy * phi'(a)
    jvp            y_dot  = phi'(a) * a_dot
    jvp_backward   da     = dy * phi'(a) + dy_dot * phi''(a) * a_dot
                   da_dot = dy_dot * phi'(a)
                   (dy = None stands for dy = 0; da is None when both terms vanish)

The phi'' term is what the gradient penalty needs and what ReLU hides: it is zero for
ReLU/LeakyReLU and non-zero for Tanh, Sigmoid and Softplus.

Subclasses write ``_phi(a)``, ``_dphi()`` and ``_d2phi()``; the last two read the
cache of the last forward (``self.a`` and ``self.y``), so they are free to use
whichever of a or y gives the cheapest exact formula (tanh' = 1 - y^2, say; such
subclasses name the functions of y as ``dphi_of_y`` and ``d2phi_of_y`` instead).
``_d2phi()`` returns None where phi'' = 0 (ReLU, LeakyReLU), so that term is skipped,
and otherwise a fresh array, which jvp_backward overwrites with its term.
phi'(a) is formed at most once per forward (``dphi()``): the gradient penalty uses it in
three passes at the same point.

On the GPU (CuPy arrays) phi, phi' and phi'' are each one fused kernel: the CUDA body
sits above the NumPy function it fuses (:mod:`tinygan.kernels`).
"""
from __future__ import annotations

from .. import checks, kernels
from ..backend import get_array_module
from .base import Layer
from .functional import sigmoid, softplus


class Activation(Layer):
    """Shared forward/backward/jvp for y = phi(a)."""

    def _phi(self, a):
        raise NotImplementedError

    def _dphi(self):
        return self.dphi_of_y(self.y)

    def _d2phi(self):
        return self.d2phi_of_y(self.y)

    def forward(self, a):
        self.a = a
        self.y = self._phi(a)
        self._dphi_cache = None   # phi'(a) of this point, formed on first use (below)
        return self.y

    __call__ = forward

    def dphi(self):
        """phi'(a) at the last forward's point, computed once and kept for the passes
        that follow (backward, and the penalty's backward, jvp and jvp_backward)."""
        if self._dphi_cache is None:
            self._dphi_cache = self._dphi()
        return self._dphi_cache

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        return dy * self.dphi() if need_dx else None

    def jvp(self, a_dot):
        self.a_dot = a_dot
        return self.dphi() * a_dot

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        if not need_dx:
            return None, None
        dphi = self.dphi()
        d2phi = self._d2phi()
        da = None if dy is None else dy * dphi
        if d2phi is not None:         # the second-order term, built in phi''s fresh array
            term = d2phi
            term *= dy_dot
            term *= self.a_dot        # dy_dot * phi''(a) * a_dot
            if da is None:
                da = term
            else:
                da += term
        return da, dy_dot * dphi


# -- phi, phi' and phi'' as NumPy functions, each below its fused CUDA body ------------

@kernels.elementwise("T a", "", "T y", "y = a <= T(0) ? T(0) : a;")   # NaN <= 0 is false
def relu(a):
    """max(a, 0)"""
    return get_array_module(a).maximum(a, 0)


@kernels.elementwise("T a", "", "T dphi", "dphi = a > T(0) ? T(1) : T(0);")
def relu_grad(a):
    """[a > 0]"""
    return (a > 0).astype(a.dtype)


# Both LeakyReLU formulas are branch-free (xp.where with random signs is several times
# slower on NumPy) and exact: for 0 < alpha < 1, max(a, alpha a) is a for a > 0 and
# alpha a otherwise; max([a > 0], alpha) is 1 or alpha.
@kernels.elementwise("T a", "T alpha", "T y", "y = a <= T(0) ? alpha * a : a;")
def leaky_relu(a, alpha):
    """a if a > 0 else alpha a"""
    y = a * alpha
    return get_array_module(a).maximum(a, y, out=y)


@kernels.elementwise("T a", "T alpha", "T dphi", "dphi = a > T(0) ? T(1) : alpha;")
def leaky_relu_grad(a, alpha):
    """1 if a > 0 else alpha"""
    dphi = (a > 0).astype(a.dtype)
    # max(dphi, alpha) for dphi in {0, 1}, written as the clip to [alpha, 1]: NumPy's
    # two-sided clip is vectorised, its maximum with a scalar is not (4x slower)
    return get_array_module(dphi).clip(dphi, alpha, 1, out=dphi)


@kernels.elementwise("T y", "", "T dphi", "dphi = T(1) - y * y;")
def tanh_grad(y):
    """tanh'(a) = 1 - y^2 with y = tanh a"""
    dphi = y * y
    return get_array_module(y).subtract(1, dphi, out=dphi)   # in place: one temporary


@kernels.elementwise("T y", "", "T d2phi", "d2phi = T(-2) * y * (T(1) - y * y);")
def tanh_second(y):
    """tanh''(a) = -2 y (1 - y^2)"""
    d2phi = tanh_grad.reference(y)      # 1 - y^2, then scaled in place
    d2phi *= -2 * y
    return d2phi


@kernels.elementwise("T y", "", "T dphi", "dphi = y * (T(1) - y);")
def sigmoid_grad(y):
    """sigma'(a) = y (1 - y) with y = sigma(a)"""
    dphi = 1 - y
    dphi *= y                           # in place: one temporary
    return dphi


@kernels.elementwise("T y", "", "T d2phi", "d2phi = y * (T(1) - y) * (T(1) - T(2) * y);")
def sigmoid_second(y):
    """sigma''(a) = y (1 - y)(1 - 2 y)"""
    d2phi = sigmoid_grad.reference(y)   # y (1 - y), then scaled in place
    d2phi *= 1 - 2 * y
    return d2phi


class LeakyReLU(Activation):
    """phi(a) = a if a > 0 else alpha a;  phi'(a) = 1 or alpha;  phi''(a) = 0 (a.e.).

    DCGAN's discriminator uses alpha = 0.2 (Radford et al. 2016, sec. 3).
    """

    def __init__(self, alpha: float = 0.2):
        super().__init__()
        self.alpha = checks.real(alpha, "alpha", "LeakyReLU", low=0.0, high=1.0, open_high=True)

    def _phi(self, a):
        # alpha = 0 is ReLU (0 * a would turn a = +-inf into nan)
        return relu(a) if self.alpha == 0 else leaky_relu(a, self.alpha)

    def _dphi(self):
        return relu_grad(self.a) if self.alpha == 0 else leaky_relu_grad(self.a, self.alpha)

    def _d2phi(self):
        return None  # phi'' = 0 (a.e.): jvp_backward skips the term

    def extra_repr(self):
        return f"alpha={self.alpha}"


class ReLU(LeakyReLU):
    """phi(a) = max(a, 0);  phi'(a) = [a > 0];  phi''(a) = 0 (a.e.): LeakyReLU, alpha = 0."""

    def __init__(self):
        super().__init__(0.0)

    def extra_repr(self):
        return ""


class Tanh(Activation):
    """phi(a) = tanh a;  phi' = 1 - y^2;  phi'' = -2 y (1 - y^2)."""

    dphi_of_y, d2phi_of_y = tanh_grad, tanh_second

    def _phi(self, a):
        return get_array_module(a).tanh(a)


class Sigmoid(Activation):
    """phi(a) = sigma(a);  phi' = y (1 - y);  phi'' = y (1 - y)(1 - 2y)."""

    dphi_of_y, d2phi_of_y = sigmoid_grad, sigmoid_second

    def _phi(self, a):
        return sigmoid(a)


class Softplus(Activation):
    """phi(a) = log(1 + e^a);  phi' = sigma(a);  phi'' = sigma(a)(1 - sigma(a))."""

    def _phi(self, a):
        return softplus(a)

    def _dphi(self):
        return sigmoid(self.a)

    def _d2phi(self):
        return sigmoid_grad(sigmoid(self.a))
