"""2-D convolution and transposed convolution, as matrix products around im2col/col2im.
Derivations: docs/derivations.md, "Convolution as im2col and a matrix product" and
"Transposed convolution".

Shape vocabulary: x (N, C, H, W), kernel KH = KW = k, stride s, padding p,
H' = (H + 2p - KH) // s + 1, W' = (W + 2p - KW) // s + 1, F output channels.
``cols = im2col(x)`` is the (C KH KW, H' W' N) matrix of every receptive field, and
``W_mat`` is W reshaped to a matrix. A convolution is then

    Y = W_mat cols                  (F, C KH KW) @ (C KH KW, H' W' N) -> (F, H' W' N)

and every gradient is one more matrix product plus a data movement. ConvTranspose2d is the
adjoint map (its forward is Conv2d's input gradient and vice versa), built from the very
same helpers; no zero-dilation, no second implementation.

Both are AffineLayers: they supply ``_apply`` (A_W x), ``_input_grad`` (A_W^T dy) and
``_weight_grad`` (dL/dW), and inherit backward, jvp and jvp_backward (nn/affine.py), so
convolutional critics get the WGAN-GP double backprop for free.
"""
from __future__ import annotations

from .. import checks
from ..backend import DEFAULT_DTYPE
from .affine import AffineLayer
from .im2col import col2im, conv_output_size, from_channel_rows, im2col, to_channel_rows
from .init import init_weight, zeros


class _ColumnMemo:
    """im2col of the (at most two) arrays a layer will need again, found by identity.

    The two are the primal and the tangent of one pass (x and x_dot for Conv2d's weight
    gradient; dy and dy_dot for ConvTranspose2d, whose dL/dx and dL/dW both need im2col(dy)).
    Identity, not value: an array changed in place must be put again by its producer.
    """

    def __init__(self):
        self.entries = []

    def clear(self):
        self.entries = []

    def put(self, a, cols):
        self.entries = [(a, cols)] + [e for e in self.entries if e[0] is not a][:1]
        return cols

    def get(self, a, build, keep=True):
        for index, (src, cols) in enumerate(self.entries):
            if src is a:
                if not keep:
                    del self.entries[index]
                return cols
        cols = build(a)
        return self.put(a, cols) if keep else cols


class _Conv(AffineLayer):
    """Hyperparameters, bias and input checks shared by Conv2d and ConvTranspose2d."""

    bias_sum_axes = (0, 2, 3)  # db[f] = sum over n, h, w of dy[n, f, h, w]
    bias_shape = (-1, 1, 1)    # y[n, f, h, w] += b[f]

    def __init__(self, c_in, c_out, k, stride, padding):
        super().__init__()
        name = type(self).__name__
        self.c_in = checks.integer(c_in, "c_in", name, low=1)
        self.c_out = checks.integer(c_out, "c_out", name, low=1)
        self.k = checks.integer(k, "kernel size k", name, low=1)
        self.stride = checks.integer(stride, "stride", name, low=1)
        self.padding = checks.integer(padding, "padding", name, low=0)
        self.x = None

    def _init_params(self, w_shape, fan_in, fan_out, bias, init, std, rng, dtype):
        self.add_param("W", init_weight(w_shape, fan_in, fan_out, init, std, rng, dtype))
        if bias:
            self.add_param("b", zeros((self.c_out,), dtype))

    def _check_image(self, x):
        if x.ndim != 4 or x.shape[1] != self.c_in:
            raise ValueError(
                f"{type(self).__name__}({self.c_in}, {self.c_out}, {self.k}): expected input of shape "
                f"(N, {self.c_in}, H, W), got {tuple(x.shape)}"
            )
        self._check_dtype(x, self.params["W"])

    def _im2col(self, a):
        """(N, C, H, W) -> (C k k, H' W' N) with this layer's k, s, p."""
        return im2col(a, self.k, self.k, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.c_in}, {self.c_out}, k={self.k}, stride={self.stride}, "
                f"padding={self.padding}, bias={'b' in self.params}")


class Conv2d(_Conv):
    """y = conv(x, W) + b (cross-correlation, as in every deep-learning library).

    Shapes: x (N, C, H, W), W (F, C, KH, KW), b (F,), y (N, F, H', W').

    Forward, with x_pad the input zero-padded by p on each side:

        y[n,f,h,w] = b[f] + sum_{c,i,j} W[f,c,i,j] x_pad[n, c, s h + i, s w + j]
        Y          = W_mat cols,    W_mat = W.reshape(F, C KH KW),  cols = im2col(x)

    Gradients, with dY = dy as an (F, H' W' N) matrix (im2col's column order):

        dL/dW = (dY cols^T).reshape(F, C, KH, KW)
        dL/db = sum_{n,h,w} dy[n, f, h, w]
        dL/dx = col2im(W_mat^T dY)     (each column entry summed back into its pixel)

    Tangent: y_dot = W_mat im2col(x_dot) (bias is constant); see AffineLayer for the
    reverse pass through (y, y_dot).

    The columns of the last forward's x (and of the last jvp's x_dot) are kept for the
    weight gradient, which multiplies the same matrix; any other x gets new columns.
    ``init="normal"`` draws N(0, std^2), std = 0.02 (DCGAN); "he"/"glorot" use
    fan_in = C KH KW, fan_out = F KH KW.
    """

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, init: str = "normal", std: float = 0.02, rng=None,
                 dtype=DEFAULT_DTYPE):
        super().__init__(c_in, c_out, k, stride, padding)
        k = self.k
        self._init_params((self.c_out, self.c_in, k, k), self.c_in * k * k,
                          self.c_out * k * k, bias, init, std, rng, dtype)
        self._cols = _ColumnMemo()  # im2col of the last forward's x and jvp's x_dot

    def output_size(self, h: int, w: int):
        """(H', W') for an (H, W) input."""
        return (conv_output_size(h, self.k, self.stride, self.padding),
                conv_output_size(w, self.k, self.stride, self.padding))

    def _check_input(self, x):
        self._check_image(x)
        h, w = x.shape[2:]
        if min(h, w) + 2 * self.padding < self.k:
            raise ValueError(
                f"Conv2d: input of spatial size {h}x{w} with padding {self.padding} is "
                f"smaller than the kernel size {self.k}"
            )

    def _apply(self, x):
        n, _, h, w = x.shape
        if x is self.x:  # called by forward: a new point, so cached columns are stale
            self._cols.clear()
        cols = self._cols.put(x, self._im2col(x))
        w_mat = self._weight().reshape(self.c_out, -1)
        return from_channel_rows(w_mat @ cols, n, *self.output_size(h, w))

    def _input_grad(self, dy):
        n = dy.shape[0]
        h, w = self.x.shape[2:]
        w_mat = self._weight().reshape(self.c_out, -1)
        dcols = w_mat.T @ to_channel_rows(dy)
        return col2im(dcols, (n, self.c_in, h, w), self.k, self.k, self.stride, self.padding)

    def _weight_grad(self, x, dy):
        dw_mat = to_channel_rows(dy) @ self._cols.get(x, self._im2col).T
        return dw_mat.reshape(self.params["W"].shape)


class ConvTranspose2d(_Conv):
    """y = conv^T(x, W) + b: the adjoint of Conv2d (PyTorch's ConvTranspose2d).

    Shapes: x (N, C_in, H, W), W (C_in, C_out, KH, KW), b (C_out,),
    y (N, C_out, H_out, W_out), H_out = (H - 1) s - 2p + KH + output_padding.
    (A Conv2d(C_out, C_in, k, s, p) maps (H_out, W_out) back to (H, W); output_padding,
    0 <= op < s, picks among the H_out that do so.)

    Forward, with X = x as a (C_in, H W N) matrix and W_mat = W.reshape(C_in, C_out KH KW):

        y[n, o, s h + i - p, s w + j - p] += sum_c W[c, o, i, j] x[n, c, h, w]   (+ b[o])
        y = col2im(W_mat^T X)                   i.e. Conv2d's input gradient

    Gradients, with dcols = im2col(dy) of shape (C_out KH KW, H W N):

        dL/dx = W_mat dcols (as NCHW)           i.e. Conv2d's forward
        dL/dW = (X dcols^T).reshape(C_in, C_out, KH, KW)
        dL/db = sum_{n,h,w} dy[n, o, h, w]

    Tangent: y_dot = col2im(W_mat^T X_dot). im2col(dy), needed by both dL/dW and dL/dx,
    is built once per upstream gradient and dropped after dL/dx, its last use.
    ``init="normal"`` draws N(0, std^2) (DCGAN); "he"/"glorot" count fan_in as the
    inputs summed into one output pixel, C_in KH KW / s^2, and fan_out = C_out KH KW.
    """

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0,
                 output_padding: int = 0, bias: bool = True, init: str = "normal",
                 std: float = 0.02, rng=None, dtype=DEFAULT_DTYPE):
        super().__init__(c_in, c_out, k, stride, padding)
        self.output_padding = checks.integer(output_padding, "output_padding (< stride)",
                                             "ConvTranspose2d", low=0, high=self.stride - 1)
        k = self.k
        self._init_params((self.c_in, self.c_out, k, k), self.c_in * k * k / self.stride ** 2,
                          self.c_out * k * k, bias, init, std, rng, dtype)
        self._dy_cols = _ColumnMemo()  # im2col(dy), im2col(dy_dot) between dW and dx

    def output_size(self, h: int, w: int):
        """(H_out, W_out) = ((H - 1) s - 2p + k + op, (W - 1) s - 2p + k + op)."""
        extra = self.k + self.output_padding - 2 * self.padding
        return (h - 1) * self.stride + extra, (w - 1) * self.stride + extra

    def _check_input(self, x):
        self._check_image(x)
        h_out, w_out = self.output_size(*x.shape[2:])
        if min(h_out, w_out) < 1:
            raise ValueError(
                f"ConvTranspose2d: input of spatial size {x.shape[2]}x{x.shape[3]} gives an "
                f"empty output ({h_out}x{w_out}) with padding {self.padding}"
            )

    def _apply(self, x):
        n, _, h, w = x.shape
        w_mat = self.params["W"].reshape(self.c_in, -1)
        cols = w_mat.T @ to_channel_rows(x)
        shape = (n, self.c_out) + self.output_size(h, w)
        return col2im(cols, shape, self.k, self.k, self.stride, self.padding)

    def _input_grad(self, dy):
        n, _, h, w = self.x.shape
        w_mat = self.params["W"].reshape(self.c_in, -1)
        # dL/dx is the last use of im2col(dy) in backward and in jvp_backward: drop it
        dcols = self._dy_cols.get(dy, self._im2col, keep=False)
        return from_channel_rows(w_mat @ dcols, n, h, w)

    def _weight_grad(self, x, dy):
        dw_mat = to_channel_rows(x) @ self._dy_cols.get(dy, self._im2col).T
        return dw_mat.reshape(self.params["W"].shape)

    def extra_repr(self):
        return super().extra_repr() + f", output_padding={self.output_padding}"
