"""Linear (fully connected) layer. Derivation: docs/derivations.md, "Linear".

Shapes: x (m, n_in), W (n_in, n_out), b (n_out,), y (m, n_out).
"""
from __future__ import annotations

from .. import checks
from ..backend import DEFAULT_DTYPE
from .affine import AffineLayer
from .init import init_weight, zeros


class Linear(AffineLayer):
    """y = x W + b.

    Gradients, for a loss L with upstream dy = dL/dy of shape (m, n_out):

        dL/dW = x^T dy              (n_in, n_out)
        dL/db = sum_i dy_i          (n_out,)
        dL/dx = dy W^T              (m, n_in)

    Tangent (second order): y_dot = x_dot W, and the reverse pass through (y, y_dot)
    adds x^T dy + x_dot^T dy_dot to dL/dW (see AffineLayer).
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, init: str = "he",
                 std: float = 0.02, rng=None, dtype=DEFAULT_DTYPE, irange: float | None = None):
        super().__init__()
        self.n_in = checks.integer(n_in, "n_in", "Linear", low=1)
        self.n_out = checks.integer(n_out, "n_out", "Linear", low=1)
        self.add_param("W", init_weight((n_in, n_out), n_in, n_out, init, std, rng, dtype,
                                        irange=irange))
        if bias:
            self.add_param("b", zeros((n_out,), dtype))

    def _check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(
                f"Linear({self.n_in}, {self.n_out}): expected input of shape (m, {self.n_in}), "
                f"got {tuple(x.shape)}"
            )
        super()._check_input(x)

    def _apply(self, x):
        return x @ self._weight()

    def _input_grad(self, dy):
        x = self.x
        if x.flags.f_contiguous and not x.flags.c_contiguous:
            # x is a convolution's output flattened: an (N, C, H, W) view of (C, H, W, N)
            # memory, so (m, n_in) with the batch fastest. dx = (W dy^T)^T comes out in that
            # same order, and the convolution below reads it without a transposing copy.
            return (self._weight() @ dy.T).T
        return dy @ self._weight().T

    def _weight_grad(self, x, dy):
        return x.T @ dy

    def extra_repr(self):
        return f"{self.n_in}, {self.n_out}, bias={'b' in self.params}"
