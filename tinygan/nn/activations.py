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
whichever of a or y gives the cheapest exact formula (tanh' = 1 - y^2, say).
``_d2phi()`` returns None where phi'' = 0 (ReLU, LeakyReLU), so that term is skipped.
phi'(a) is formed at most once per forward (``dphi()``): the gradient penalty uses it in
three passes at the same point.

On the GPU (CuPy arrays, ``tinygan.kernels.use_kernels``) phi, phi' and phi'' are each
one fused kernel with the same formula (``tinygan/kernels/activations.py``); NumPy runs
the array expressions below.
"""
from __future__ import annotations

from .. import kernels
from .base import Layer
from .functional import sigmoid, softplus
from ..backend import get_array_module
from ..kernels import use_kernels


class Activation(Layer):
    """Shared forward/backward/jvp for y = phi(a)."""

    def _phi(self, a):
        raise NotImplementedError

    def _dphi(self):
        raise NotImplementedError

    def _d2phi(self):
        raise NotImplementedError

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
        if d2phi is not None:                      # the second-order term
            term = dy_dot * d2phi * self.a_dot
            da = term if da is None else da + term
        return da, dy_dot * dphi


class ReLU(Activation):
    """phi(a) = max(a, 0);  phi'(a) = [a > 0];  phi''(a) = 0 (a.e.)."""

    def _phi(self, a):
        if use_kernels(a):
            return kernels.relu(a=a)
        return get_array_module(a).maximum(a, 0)

    def _dphi(self):
        if use_kernels(self.a):
            return kernels.relu_grad(a=self.a)
        return (self.a > 0).astype(self.a.dtype)

    def _d2phi(self):
        return None  # phi'' = 0 (a.e.): jvp_backward skips the term


class LeakyReLU(Activation):
    """phi(a) = a if a > 0 else alpha a;  phi'(a) = 1 or alpha;  phi''(a) = 0 (a.e.).

    DCGAN's discriminator uses alpha = 0.2 (Radford et al. 2016, sec. 3).
    """

    def __init__(self, alpha: float = 0.2):
        super().__init__()
        if not 0 <= alpha < 1:
            raise ValueError(f"LeakyReLU: alpha must be in [0, 1), got {alpha}")
        self.alpha = alpha

    # Both formulas are branch-free (xp.where with random signs is several times slower
    # on NumPy) and exact: for 0 <= alpha < 1, max(a, alpha a) is a for a > 0 and
    # alpha a otherwise; max([a > 0], alpha) is 1 or alpha.
    def _phi(self, a):
        xp = get_array_module(a)
        if self.alpha == 0:                 # ReLU (0 * a would turn a = +-inf into nan)
            return kernels.relu(a=a) if use_kernels(a) else xp.maximum(a, 0)
        if use_kernels(a):
            return kernels.leaky_relu(a=a, alpha=self.alpha)
        y = a * self.alpha
        return xp.maximum(a, y, out=y)      # max(a, alpha a)

    def _dphi(self):
        if use_kernels(self.a):
            return kernels.leaky_relu_grad(a=self.a, alpha=self.alpha)
        dphi = (self.a > 0).astype(self.a.dtype)
        return get_array_module(dphi).maximum(dphi, self.alpha, out=dphi)  # 1 or alpha

    def _d2phi(self):
        return None  # phi'' = 0 (a.e.): jvp_backward skips the term

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Tanh(Activation):
    """phi(a) = tanh a;  phi' = 1 - y^2;  phi'' = -2 y (1 - y^2)."""

    def _phi(self, a):
        return get_array_module(a).tanh(a)

    def _dphi(self):
        if use_kernels(self.y):
            return kernels.tanh_grad(y=self.y)
        return 1 - self.y * self.y

    def _d2phi(self):
        if use_kernels(self.y):
            return kernels.tanh_second(y=self.y)
        return -2 * self.y * (1 - self.y * self.y)


class Sigmoid(Activation):
    """phi(a) = sigma(a);  phi' = y (1 - y);  phi'' = y (1 - y)(1 - 2y)."""

    def _phi(self, a):
        return sigmoid(a)

    def _dphi(self):
        if use_kernels(self.y):
            return kernels.sigmoid_grad(y=self.y)
        return self.y * (1 - self.y)

    def _d2phi(self):
        if use_kernels(self.y):
            return kernels.sigmoid_second(y=self.y)
        return self.y * (1 - self.y) * (1 - 2 * self.y)


class Softplus(Activation):
    """phi(a) = log(1 + e^a);  phi' = sigma(a);  phi'' = sigma(a)(1 - sigma(a))."""

    def _phi(self, a):
        return softplus(a)

    def _dphi(self):
        return sigmoid(self.a)

    def _d2phi(self):
        s = sigmoid(self.a)
        return kernels.sigmoid_grad(y=s) if use_kernels(s) else s * (1 - s)
