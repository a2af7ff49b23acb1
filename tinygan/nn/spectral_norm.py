"""Spectral normalisation of a Linear layer (Miyato et al. 2018).
Derivation: docs/derivations.md, "Spectral normalisation".

Shapes: x (m, n_in), W (n_in, n_out) (tinygan's y = x W; the paper's matrix is W^T),
u (n_out,), v (n_in,), b (n_out,), y (m, n_out).
"""
from __future__ import annotations

from ..backend import DEFAULT_DTYPE, default_rng, get_array_module
from .linear import Linear


class SpectralNormLinear(Linear):
    """y = x W_sn + b,  W_sn = W / sigma(W), sigma(W) the largest singular value of W,
    estimated by power iteration (Miyato et al. 2018, Alg. 1).

    Each forward in training mode runs ``n_power_iterations`` (1, as in the paper) steps
    from the stored u, v (buffers: kept across steps and in checkpoints):

        v <- W u / ||W u||              (n_in,)
        u <- W^T v / ||W^T v||          (n_out,)
        sigma = v^T W u                 (0-d; = ||W^T v|| -> largest singular value)

    In eval mode u, v are not updated. Gradients treat u and v as constants (Miyato et
    al. 2018, sec. 2.3, eqs. 11-12, and every implementation do; exact once u, v are the
    top singular pair); with G = dL/dW_sn = x^T dy and dsigma/dW = v u^T:

        dL/dW = (G - <G, W_sn> v u^T) / sigma          <A, B> = sum(A * B)
        dL/db = sum_i dy_i,     dL/dx = dy W_sn^T

    The map G -> dL/dW is linear, so the layer stays an AffineLayer with W_sn in place
    of W and inherits jvp and jvp_backward: a spectrally normalised critic also takes
    the gradient penalty's double backprop.
    """

    def __init__(self, n_in: int, n_out: int, bias: bool = True, init: str = "he",
                 std: float = 0.02, rng=None, dtype=DEFAULT_DTYPE,
                 n_power_iterations: int = 1, eps: float = 1e-12):
        super().__init__(n_in, n_out, bias=bias, init=init, std=std, rng=rng, dtype=dtype)
        if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int) \
                or n_power_iterations < 1:
            raise ValueError("SpectralNormLinear: n_power_iterations must be an integer >= 1, "
                             f"got {n_power_iterations!r}")
        if not eps > 0:
            raise ValueError(f"SpectralNormLinear: eps must be > 0, got {eps!r}")
        self.n_power_iterations, self.eps = n_power_iterations, eps
        rng = default_rng() if rng is None else rng
        self.u = self._normalize(rng.standard_normal(size=(n_out,)).astype(dtype))
        self.v = self._normalize(rng.standard_normal(size=(n_in,)).astype(dtype))
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
        W = self.params["W"]
        for _ in range(steps):
            self.v = self._normalize(W @ self.u)        # v <- W u / ||W u||
            self.u = self._normalize(W.T @ self.v)      # u <- W^T v / ||W^T v||

    def _normalised_weight(self):
        """sigma = v^T W u and W_sn = W / sigma, cached for backward and jvp."""
        W = self.params["W"]
        self.sigma = self.v @ (W @ self.u)
        self.w_sn = W / self.sigma
        return self.w_sn

    def forward(self, x):
        if self.training:
            self._power_iteration(self.n_power_iterations)
        self._normalised_weight()
        return super().forward(x)

    __call__ = forward

    def _apply(self, x):
        return x @ self.w_sn

    def _input_grad(self, dy):
        return dy @ self.w_sn.T

    def _weight_grad(self, x, dy):
        G = x.T @ dy                                            # dL/dW_sn (n_in, n_out)
        xp = get_array_module(G)
        return (G - xp.sum(G * self.w_sn) * xp.outer(self.v, self.u)) / self.sigma

    def extra_repr(self):
        return super().extra_repr() + f", n_power_iterations={self.n_power_iterations}"
