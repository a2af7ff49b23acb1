"""Affine layers: y = A_W(x) + b with A_W linear in x *and* in W (Linear, Conv2d,
ConvTranspose2d). One base class gives all of them the backward and the second-order
pair from three primitives each subclass writes next to its own equations:

* ``_apply(x)``            A_W(x)                     (no bias)
* ``_input_grad(dy)``      A_W^T dy  = dL/dx
* ``_weight_grad(x, dy)``  dL/dW of <dy, A_W(x)>

Because A is bilinear in (W, x), the derivations are short
(docs/derivations.md, "Affine layers" and "The gradient penalty by double backprop"):

    forward        y     = A_W(x) + b
    backward       dx    = A_W^T dy,   dW += weight_grad(x, dy),   db += sum over batch/space of dy
    jvp            y_dot = A_W(x_dot)                         (b is constant in x)
    jvp_backward   the scalar S(W, b) reached through y and y_dot = A_W(x_dot) has
                   (dy = None stands for dy = 0: its three terms are skipped)
                   dW += weight_grad(x, dy) + weight_grad(x_dot, dy_dot),  db += sum dy,
                   dx = A_W^T dy,   dx_dot = A_W^T dy_dot
"""
from __future__ import annotations

from .base import Layer


class AffineLayer(Layer):
    """Shared forward/backward/jvp for layers that are affine in x and linear in W."""

    #: axes of dy summed to get db (batch, and space for convolutions), and the shape b
    #: takes to broadcast over y
    bias_sum_axes = (0,)
    bias_shape = (-1,)

    # -- primitives each subclass provides ----------------------------------------
    def _apply(self, x):
        raise NotImplementedError

    def _input_grad(self, dy):
        raise NotImplementedError

    def _weight_grad(self, x, dy):
        raise NotImplementedError

    def _weight(self):
        """The weight A_W applies: W itself (spectral normalisation puts W_sn here)."""
        return self.params["W"]

    def _check_input(self, x):
        """Raise a clear error for a wrong shape or dtype (subclasses extend)."""
        self._check_dtype(x, self.params["W"])

    # -- the protocol ------------------------------------------------------------
    def forward(self, x):
        self._check_input(x)
        self.x = x
        y = self._apply(x)
        if "b" in self.params:
            y += self.params["b"].reshape(self.bias_shape)  # y is a fresh array: in place is safe
        return y

    __call__ = forward

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        if param_grads:
            self.grads["W"] += self._weight_grad(self.x, dy)
            if "b" in self.grads:
                self.grads["b"] += dy.sum(axis=self.bias_sum_axes)
        return self._input_grad(dy) if need_dx else None

    def jvp(self, x_dot):
        self._check_input(x_dot)
        self.x_dot = x_dot
        return self._apply(x_dot)

    def jvp_backward(self, dy, dy_dot, need_dx: bool = True):
        # The gradient penalty's dP/dW, for Linear x^T dy + x_dot^T dy_dot (weight_grad is
        # x^T dy there). dy is None: the primal cotangent is exactly zero (the penalty's
        # seed, and everything below it down to the first phi'' != 0): skip its products.
        if dy is not None:
            self.grads["W"] += self._weight_grad(self.x, dy)
            if "b" in self.grads:
                self.grads["b"] += dy.sum(axis=self.bias_sum_axes)
        self.grads["W"] += self._weight_grad(self.x_dot, dy_dot)
        if not need_dx:
            return None, None
        dx = None if dy is None else self._input_grad(dy)
        return dx, self._input_grad(dy_dot)
