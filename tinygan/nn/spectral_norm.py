"""Spectral normalisation of Linear and Conv2d layers (Miyato et al. 2018).
Derivation: docs/derivations.md, "Spectral normalisation".

Both normalise a matrix view W_mat of the weight (the chapter's symbols):

* Linear: x (m, n_in), W_mat = W (n_in, n_out) (tinygan's y = x W; the paper's matrix is
  W^T, with the same singular values), u (n_out,), v (n_in,), b (n_out,), y (m, n_out);
* Conv2d: W (C_out, C_in, KH, KW), W_mat = W.reshape(C_out, C_in KH KW) as in the paper
  (sec. 2.1: "reshape the weight to (d_out, d_in k k)"), u (C_in KH KW,), v (C_out,).

``SpectralNorm`` holds the power iteration and the gradient once; each layer supplies
only ``_matrix``.
"""
from __future__ import annotations

from .. import checks
from ..backend import DEFAULT_DTYPE, default_rng, get_array_module
from .conv import Conv2d
from .linear import Linear


class SpectralNorm:
    """Mixin for an AffineLayer: y = A_{W_sn}(x) + b,  W_sn = W / sigma(W), sigma(W) the
    largest singular value of W_mat = matrix(W), estimated by power iteration (Miyato et al.
    2018, Alg. 1).

    Each forward in training mode runs ``n_power_iterations`` (1, as in the paper) steps
    from the stored u, v (buffers: kept across steps and in checkpoints):

        v <- W_mat u / ||W_mat u||          (rows of W_mat,)
        u <- W_mat^T v / ||W_mat^T v||      (columns of W_mat,)
        sigma = v^T W_mat u                 (0-d; = ||W_mat^T v|| -> largest singular value)

    In eval mode u, v are not updated. Gradients treat u and v as constants (Miyato et
    al. 2018, sec. 2.3, eqs. 11-12, and every implementation do; exact once u, v are the
    top singular pair); with dW_sn = dL/dW_sn (the layer's own weight gradient, taken at
    W_sn, as a matrix) and dsigma/dW_mat = v u^T:

        dW_mat = (dW_sn - kappa v u^T) / sigma,   kappa = <dW_sn, W_sn>,  <A, B> = sum(A * B)
        dL/db, dL/dx: the layer's own, with W_sn in place of W

    The map dW_sn -> dW is linear, so the layer stays an AffineLayer with W_sn in place
    of W and inherits jvp and jvp_backward: a spectrally normalised critic also takes
    the gradient penalty's double backprop.
    """

    def _matrix(self, a):
        """The 2-D view of a weight-shaped array that is normalised."""
        raise NotImplementedError

    def _init_spectral_norm(self, n_power_iterations, eps, rng, dtype):
        where = type(self).__name__
        self.n_power_iterations = checks.integer(n_power_iterations, "n_power_iterations",
                                                 where, low=1)
        self.eps = checks.positive(eps, "eps", where)
        rows, cols = self._matrix(self.params["W"]).shape
        rng = default_rng() if rng is None else rng
        self.u = self._normalize(rng.standard_normal(size=(cols,)).astype(dtype))
        self.v = self._normalize(rng.standard_normal(size=(rows,)).astype(dtype))
        # 15 steps at construction, as PyTorch's parametrisation does. Not converged:
        # sigma_2/sigma_1 ~ 0.994 for He-initialised MNIST-sized W, so sigma starts ~2% low
        # (docs/derivations.md, "Spectral normalisation"); training steps continue it.
        self._power_iteration(15)

    def buffer_names(self):
        return ("u", "v")

    def _normalize(self, a):
        xp = get_array_module(a)
        return a / xp.maximum(xp.sqrt(a @ a), self.eps)

    def _power_iteration(self, steps):
        W_mat = self._matrix(self.params["W"])
        for _ in range(steps):
            self.v = self._normalize(W_mat @ self.u)     # v <- W_mat u / ||W_mat u||
            self.u = self._normalize(W_mat.T @ self.v)   # u <- W_mat^T v / ||W_mat^T v||

    def _normalised_weight(self):
        """sigma = v^T W_mat u and W_sn = W / sigma, cached for backward and jvp."""
        W = self.params["W"]
        self.sigma = self.v @ (self._matrix(W) @ self.u)
        self.w_sn = W / self.sigma
        return self.w_sn

    def forward(self, x):
        if self.training:
            self._power_iteration(self.n_power_iterations)
        self._normalised_weight()
        return super().forward(x)

    __call__ = forward

    def _weight(self):
        return self.w_sn

    def _weight_grad(self, x, dy):
        dW_sn = super()._weight_grad(x, dy)             # dL/dW_sn, W's shape
        xp = get_array_module(dW_sn)
        kappa = xp.sum(dW_sn * self.w_sn)               # <dW_sn, W_sn>
        dW_mat = (self._matrix(dW_sn) - kappa * xp.outer(self.v, self.u)) / self.sigma
        return dW_mat.reshape(dW_sn.shape)

    def extra_repr(self):
        return super().extra_repr() + f", n_power_iterations={self.n_power_iterations}"


class SpectralNormLinear(SpectralNorm, Linear):
    """Linear with W_sn = W / sigma(W) (``SpectralNorm``), W_mat = W (n_in, n_out):

        dW = (dW_sn - kappa v u^T) / sigma,   dW_sn = x^T dy,  kappa = <dW_sn, W_sn>
        dL/db = sum_i dy_i,     dL/dx = dy W_sn^T
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, init: str = "he",
                 std: float = 0.02, rng=None, dtype=DEFAULT_DTYPE,
                 n_power_iterations: int = 1, eps: float = 1e-12):
        super().__init__(n_in, n_out, bias=bias, init=init, std=std, rng=rng, dtype=dtype)
        self._init_spectral_norm(n_power_iterations, eps, rng, dtype)

    def _matrix(self, a):
        return a


class SpectralNormConv2d(SpectralNorm, Conv2d):
    """Conv2d with W_sn = W / sigma(W_mat), W_mat = W.reshape(C_out, C_in KH KW)
    (``SpectralNorm``):

        Y = W_mat_sn cols,   W_mat_sn = W_mat / sigma
        dW = ((dW_sn - kappa v u^T) / sigma).reshape(C_out, C_in, KH, KW),
             dW_sn = dY cols^T,  kappa = <dW_sn, W_mat_sn>
        db = sum_{n,h,w} dy[n, c, h, w],   dx = col2im(W_mat_sn^T dY)

    sigma(W_mat) is the paper's normaliser, not the convolution's operator norm: each input
    pixel is read by at most ceil(KH/st)^2 windows, so ||cols(x)|| <= ceil(KH/st) ||x|| and
    the normalised convolution is ceil(KH/st)-Lipschitz at most (2 for KH = 4, st = 2).
    """

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, init: str = "normal", std: float = 0.02, rng=None,
                 dtype=DEFAULT_DTYPE, n_power_iterations: int = 1, eps: float = 1e-12):
        super().__init__(c_in, c_out, k, stride=stride, padding=padding, bias=bias, init=init,
                         std=std, rng=rng, dtype=dtype)
        self._init_spectral_norm(n_power_iterations, eps, rng, dtype)

    def _matrix(self, a):
        return a.reshape(a.shape[0], -1)
