"""Batch normalisation (Ioffe & Szegedy 2015), as DCGAN uses it.
Derivation: docs/derivations.md, "BatchNorm".

Inputs (N, C) (per feature) or (N, C, H, W) (per channel, statistics over n, h, w).
For one channel, the m = N (or N H W) values it normalises over are x_k, k = 1..m:

    mu = (1/m) sum_k x_k,   var = (1/m) sum_k (x_k - mu)^2,   sigma = sqrt(var + eps)
    xhat_k = (x_k - mu) / sigma,                     y_k = gamma xhat_k + beta

Training uses the batch's mu and var (the biased variance) and updates the running
statistics like PyTorch, with the unbiased variance var m / (m - 1):

    running_mean <- (1 - momentum) running_mean + momentum mu
    running_var  <- (1 - momentum) running_var  + momentum var m / (m - 1)

Evaluation uses the running statistics, so the layer is then a fixed per-channel
affine map of each sample.

The per-channel statistics (means, sums) stay reductions; the elementwise work around
them is one fused kernel on the GPU (the CUDA bodies below, above the NumPy functions
they fuse). Per-channel arrays have shape (1, C) or (1, C, 1, 1) and broadcast.
"""
from __future__ import annotations

from .. import checks, kernels
from ..backend import DEFAULT_DTYPE, get_array_module
from .base import Layer, PenaltyIncompatibleError
from .init import ones, zeros


@kernels.elementwise("T x, T mu, T inv_sigma, T gamma, T beta", "", "T xhat, T y", """
    xhat = (x - mu) * inv_sigma;          // xhat = (x - mu) / sigma
    y = xhat * gamma + beta;              // y = gamma xhat + beta
""")
def batchnorm_forward(x, mu, inv_sigma, gamma, beta, centred=None):
    """xhat = (x - mu) / sigma;  y = gamma xhat + beta. ``centred``: x - mu when the
    caller has it already (training needed it for the variance); it becomes xhat."""
    xhat = x - mu if centred is None else centred
    xhat *= inv_sigma                     # in place: our own temporary
    y = xhat * gamma
    y += beta
    return xhat, y


@kernels.elementwise("T dy, T xhat, T sum_dy, T sum_dy_xhat, T g_over_m", "T m", "T dx",
                     "dx = ((dy * m - sum_dy) - xhat * sum_dy_xhat) * g_over_m;")
def batchnorm_backward(dy, xhat, sum_dy, sum_dy_xhat, g_over_m, m, work=None):
    """dx = (gamma / (m sigma)) (m dy - sum dy - xhat sum(dy xhat)), g_over_m being
    gamma / (m sigma); ``work``: a free buffer of dy's shape to build dx in."""
    dx = get_array_module(dy).multiply(dy, m, out=work)
    dx -= sum_dy
    dx -= xhat * sum_dy_xhat
    dx *= g_over_m
    return dx


BUFFERS = ("running_mean", "running_var")     # checkpointed with the parameters


class BatchNorm(Layer):
    """y = gamma (x - mu) / sqrt(var + eps) + beta, per channel.

    Shapes: x, y (N, C) or (N, C, H, W); gamma, beta, running_mean, running_var (C,).
    m = N or N H W values per channel; sums below run over those m positions.

    Train-mode backward (statistics depend on x), with g = gamma / sigma:

        dL/dbeta  = sum_k dy_k
        dL/dgamma = sum_k dy_k xhat_k
        dL/dx_k   = g (dy_k - mean_j dy_j - xhat_k mean_j (dy_j xhat_j))
                  = (gamma / (m sigma)) (m dy_k - sum_j dy_j - xhat_k sum_j dy_j xhat_j)

    Eval-mode backward (mu, sigma from the running statistics, constants):

        dL/dx_k = g dy_k,  dL/dgamma and dL/dbeta as above.

    No second-order pair: in training the statistics mix the samples of a batch, so
    the gradient of one sample's score depends on the others and the per-sample
    gradient penalty of WGAN-GP is no longer defined (Gulrajani et al. 2017, sec. 4).
    """

    mixes_samples = True

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype=DEFAULT_DTYPE):
        super().__init__()
        self.num_features = checks.integer(num_features, "num_features", "BatchNorm", low=1)
        self.eps = checks.positive(eps, "eps", "BatchNorm")
        self.momentum = checks.real(momentum, "momentum", "BatchNorm", low=0.0, high=1.0)
        self.add_param("gamma", ones((self.num_features,), dtype))
        self.add_param("beta", zeros((self.num_features,), dtype))
        self.running_mean = zeros((self.num_features,), dtype)
        self.running_var = ones((self.num_features,), dtype)

    def buffer_names(self):
        return BUFFERS

    # -- helpers ------------------------------------------------------------------
    def _check_input(self, x):
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm({self.num_features}): expected input of shape (N, "
                f"{self.num_features}) or (N, {self.num_features}, H, W), got {tuple(x.shape)}"
            )
        self._check_dtype(x, self.params["gamma"])

    @staticmethod
    def _per_channel(v, ndim):
        """(C,) -> broadcastable against (N, C) or (N, C, H, W)."""
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    # -- forward / backward -------------------------------------------------------
    def forward(self, x):
        self._check_input(x)
        xp = get_array_module(x)
        self.axes = (0,) if x.ndim == 2 else (0, 2, 3)
        m = x.size // self.num_features
        self.batch_stats = self.training  # backward must follow the mode of this forward
        if self.training:
            if m < 2:
                raise ValueError(
                    f"BatchNorm: training needs more than one value per channel to estimate "
                    f"a variance, got input of shape {tuple(x.shape)}"
                )
            mu = x.mean(axis=self.axes, keepdims=True)
            centred = x - mu
            var = xp.square(centred).mean(axis=self.axes, keepdims=True)
            self._update_running(mu.reshape(-1), var.reshape(-1), m)
        else:
            mu = self._per_channel(self.running_mean, x.ndim)
            var = self._per_channel(self.running_var, x.ndim)
            centred = None
        self.inv_sigma = 1 / xp.sqrt(var + self.eps)  # 1 / sigma, shape (1, C[, 1, 1])
        self.xhat, y = batchnorm_forward(x, mu, self.inv_sigma,
                                         self._per_channel(self.params["gamma"], x.ndim),
                                         self._per_channel(self.params["beta"], x.ndim),
                                         centred=centred)
        return y

    __call__ = forward

    def _update_running(self, mu, var, m):
        # In place, so the arrays held by state_dict() and checkpoints stay the live ones.
        self.running_mean *= 1 - self.momentum
        self.running_mean += self.momentum * mu
        self.running_var *= 1 - self.momentum
        self.running_var += (self.momentum * m / (m - 1)) * var  # unbiased, as PyTorch

    def backward(self, dy, param_grads: bool = True, need_dx: bool = True):
        sum_dy = dy.sum(axis=self.axes, keepdims=True)
        dy_xhat = dy * self.xhat
        sum_dy_xhat = dy_xhat.sum(axis=self.axes, keepdims=True)
        if param_grads:
            self.grads["gamma"] += sum_dy_xhat.reshape(-1)
            self.grads["beta"] += sum_dy.reshape(-1)
        if not need_dx:
            return None
        g = self._per_channel(self.params["gamma"], dy.ndim) * self.inv_sigma
        if not self.batch_stats:  # eval mode: an affine map with constant statistics
            return g * dy
        m = dy.size // self.num_features
        return batchnorm_backward(dy, self.xhat, sum_dy, sum_dy_xhat, g / m, m, work=dy_xhat)

    def _no_second_order(self, what: str) -> PenaltyIncompatibleError:
        """What Layer's jvp and jvp_backward raise, with the reason particular to BatchNorm."""
        return PenaltyIncompatibleError(
            f"BatchNorm has no {what}: it normalises with statistics of the whole batch, so it "
            "mixes samples and the per-sample gradient penalty of WGAN-GP is undefined; "
            "build WGAN-GP critics without BatchNorm (Gulrajani et al. 2017, sec. 4 "
            "suggest none or layer normalisation)"
        )

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


def standing_statistics(model, batches) -> dict:
    """The statistics each BatchNorm of ``model`` sees under its current weights: the
    plain mean, over the given input ``batches``, of the batch statistics of a
    train-mode forward pass,

        running_mean = (1/K) sum_k mu_k,     running_var = (1/K) sum_k var_k m / (m - 1)

    (momentum 1/(k+1) at the k-th batch, k = 0..K-1). A BatchNorm's running statistics
    belong to the weights that trained them; weights from elsewhere (an average of G's,
    ``Trainer(ema=...)``) need their own, estimated like this ("standing statistics",
    Brock et al. 2019; ``update_bn`` in SWA, Izmailov et al. 2018).

    Only the BatchNorm layers run in train mode; the rest runs as it samples, in eval
    mode (no dropout, no power-iteration step of a spectral norm), so no other state moves.
    Returns {name: copy} of the BatchNorm buffers in ``model.state_dict()``'s names;
    the model's own running statistics, momenta and mode are left as they were.
    """
    layers = _batchnorms(model)
    kept = [(layer.running_mean.copy(), layer.running_var.copy(), layer.momentum)
            for layer in layers]
    was_training = model.training
    model.eval()
    for layer in layers:
        layer.train()
    try:
        for k, x in enumerate(batches):
            for layer in layers:
                layer.momentum = 1.0 / (k + 1)
            model.forward(x)
        return {name: value.copy() for name, value in running_statistics(model).items()}
    finally:
        for layer, (mean, var, momentum) in zip(layers, kept):
            layer.running_mean[...], layer.running_var[...] = mean, var
            layer.momentum = momentum
        model.train(was_training)


def running_statistics(model) -> dict:
    """{name: live array} of the running statistics of every BatchNorm in ``model``, in
    ``model.state_dict()``'s names (``<i>.running_mean``, ``<i>.running_var``)."""
    return {name: value for name, value in model.state_dict().items()
            if name.rpartition(".")[2] in BUFFERS}


def _batchnorms(layer) -> list:
    """Every BatchNorm in ``layer`` and its children, depth first."""
    own = [layer] if isinstance(layer, BatchNorm) else []
    return own + [bn for child in layer.children() for bn in _batchnorms(child)]
