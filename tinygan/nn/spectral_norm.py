"""Spectral normalisation of Linear and Conv2d layers (Miyato et al. 2018).
Derivation: docs/derivations.md, "Spectral normalisation".

Both normalise a matrix view M of the weight, M = matrix(W):

* Linear: x (m, n_in), W (n_in, n_out) = M (tinygan's y = x W; the paper's matrix is
  W^T, with the same singular values), u (n_out,), v (n_in,), b (n_out,), y (m, n_out);
* Conv2d: W (F, C, k, k), M = W.reshape(F, C k k) as in the paper (sec. 2.1: "reshape
  the weight to (d_out, d_in k k)"), u (C k k,), v (F,).

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
    largest singular value of M = matrix(W), estimated by power iteration (Miyato et al.
    2018, Alg. 1).

    Each forward in training mode runs ``n_power_iterations`` (1, as in the paper) steps
    from the stored u, v (buffers: kept across steps and in checkpoints):

        v <- M u / ||M u||              (rows of M,)
        u <- M^T v / ||M^T v||          (columns of M,)
        sigma = v^T M u                 (0-d; = ||M^T v|| -> largest singular value)

    In eval mode u, v are not updated. Gradients treat u and v as constants (Miyato et
    al. 2018, sec. 2.3, eqs. 11-12, and every implementation do; exact once u, v are the
    top singular pair); with G = dL/dW_sn (the layer's own weight gradient, taken at
    W_sn) and dsigma/dM = v u^T:

        dL/dM = (G_M - <G_M, M_sn> v u^T) / sigma      <A, B> = sum(A * B),  G_M = matrix(G)
        dL/db, dL/dx: the layer's own, with W_sn in place of W

    The map G -> dL/dW is linear, so the layer stays an AffineLayer with W_sn in place
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
        M = self._matrix(self.params["W"])
        for _ in range(steps):
            self.v = self._normalize(M @ self.u)        # v <- M u / ||M u||
            self.u = self._normalize(M.T @ self.v)      # u <- M^T v / ||M^T v||

    def _normalised_weight(self):
        """sigma = v^T M u and W_sn = W / sigma, cached for backward and jvp."""
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
        G = super()._weight_grad(x, dy)                 # dL/dW_sn, W's shape
        G_M, xp = self._matrix(G), get_array_module(G)
        dM = (G_M - xp.sum(G_M * self._matrix(self.w_sn)) * xp.outer(self.v, self.u)) / self.sigma
        return dM.reshape(G.shape)

    def extra_repr(self):
        return super().extra_repr() + f", n_power_iterations={self.n_power_iterations}"


class SpectralNormLinear(SpectralNorm, Linear):
    """Linear with W_sn = W / sigma(W) (``SpectralNorm``), M = W (n_in, n_out):

        dL/dW = (G - <G, W_sn> v u^T) / sigma,   G = x^T dy
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
    """Conv2d with W_sn = W / sigma(M), M = W.reshape(F, C k k) (``SpectralNorm``):

        Y = M_sn cols,   M_sn = M / sigma
        dL/dW = ((G_M - <G_M, M_sn> v u^T) / sigma).reshape(F, C, k, k),  G_M = dY cols^T
        dL/db = sum_{n,h,w} dy[n, f, h, w],   dL/dx = col2im(M_sn^T dY)

    sigma(M) is the paper's normaliser, not the convolution's operator norm: each input
    pixel is read by at most ceil(k/s)^2 windows, so ||cols(x)|| <= ceil(k/s) ||x|| and
    the normalised convolution is ceil(k/s)-Lipschitz at most (2 for k = 4, s = 2).
    """

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, init: str = "normal", std: float = 0.02, rng=None,
                 dtype=DEFAULT_DTYPE, n_power_iterations: int = 1, eps: float = 1e-12):
        super().__init__(c_in, c_out, k, stride=stride, padding=padding, bias=bias, init=init,
                         std=std, rng=rng, dtype=dtype)
        self._init_spectral_norm(n_power_iterations, eps, rng, dtype)

    def _matrix(self, a):
        return a.reshape(a.shape[0], -1)
