"""Generators and discriminators/critics, all plain ``nn.Sequential`` stacks, returned
flattened (``Layer.flatten``: each model's parameters in one buffer, so the optimiser
updates them in one pass). Output sizes and the label join's gradient: docs/derivations.md, "Training algorithms".

* MLP (Goodfellow et al. 2014, fully connected):  ``mlp_generator``, ``mlp_discriminator``.
* Goodfellow et al. 2014's own MNIST pair (their ``mnist.yaml``): ``goodfellow_generator``
  (ReLU, sigmoid output), ``goodfellow_discriminator`` (maxout with dropout).
* DCGAN for 28x28 MNIST (Radford et al. 2016):    ``dcgan_generator``, ``dcgan_discriminator``.
* InfoGAN's MNIST pair (Chen et al. 2016, appendix C.1): ``infogan_generator``,
  ``infogan_discriminator`` (Qn's own layers on D's shared body, ``nn.Heads``).
* Gulrajani et al. 2017's MNIST critic (no BatchNorm, so the gradient penalty applies):
  ``wgangp_conv_critic``.
* PacGAN's pair for the 2-D mixtures (Lin et al. 2018, VEEGAN's setup): ``pacgan_toy_generator``
  (BatchNorm ReLU layers), ``pacgan_toy_discriminator`` (maxout).

Conditional models (Mirza & Osindero 2014) are the same stacks with ``n_classes`` extra
input features (MLP) or input channels (conv): they take the *joined* input
``join_label(x, y_onehot)``:

    MLP     x (m, d),        y (m, K)  ->  [x, y]                    (m, d + K)
    images  x (m, C, H, W),  y (m, K)  ->  [x, y_1 1_HW, ..., y_K 1_HW]  (m, C + K, H, W)

(the image case appends K constant label maps as channels, as in Radford et al.'s
``conv_cond_concat``). A gradient reaching the joined input is cut back to its data part
with ``split_input_grad(dx, d)``: the label is data, not a parameter, so its gradient
is dropped.

Initialisation (biases are zero everywhere):

* MLP hidden layers with (Leaky)ReLU: He et al. 2015, N(0, 2 / fan_in) — keeps the
  activations' scale through depth; tanh layers and the output layers: Glorot uniform.
* DCGAN and InfoGAN: every conv/linear weight N(0, 0.02^2); BatchNorm gamma ~ N(1, 0.02^2),
  beta 0 (Radford et al. 2016, sec. 4; the gamma rule is from the authors' code ``bn_init``,
  and InfoGAN's code draws both alike).
"""
from __future__ import annotations


from . import nn
from .checks import integer
from .backend import DEFAULT_DTYPE, default_rng, derived_seed, get_array_module, get_backend

MLP_ACTIVATIONS = ("leakyrelu", "relu", "tanh")
DCGAN_STD = 0.02  # Radford et al. 2016, sec. 4: "initialized from a zero-centered Normal
                  # distribution with standard deviation 0.02"


# -- conditioning on a label ----------------------------------------------------------

def join_label(x, y_onehot):
    """Append the one-hot label to the input: G(z, y) = G([z, y]), D(x, y) = D([x, y]).

    ``x`` (m, d) -> (m, d + K); ``x`` (m, C, H, W) -> (m, C + K, H, W) with channel C + j
    equal to y_j everywhere. ``y_onehot`` is (m, K) and is cast to x's dtype.
    """
    xp = get_array_module(x, y_onehot)
    if y_onehot.ndim != 2 or y_onehot.shape[0] != x.shape[0]:
        raise ValueError(
            f"join_label: expected y_onehot of shape (m, K) with m = {x.shape[0]}, "
            f"got {tuple(y_onehot.shape)}"
        )
    y = y_onehot.astype(x.dtype, copy=False)
    if x.ndim == 2:
        return xp.concatenate([x, y], axis=1)
    if x.ndim == 4:
        m, _, h, w = x.shape
        maps = xp.broadcast_to(y[:, :, None, None], (m, y.shape[1], h, w))
        return xp.concatenate([x, maps], axis=1)
    raise ValueError("join_label: expected x of shape (m, d) or (m, C, H, W), "
                     f"got {tuple(x.shape)}")


def split_input_grad(dx, d: int):
    """The data part of a gradient w.r.t. a joined input: dx[:, :d] (features or channels).

    The backward of the concatenation [x, y] is the split (dx, dy); dy is discarded.
    """
    return dx[:, :d]


def label_mask(joined_shape, d: int, dtype=DEFAULT_DTYPE, xp=None):
    """0/1 array broadcastable to ``joined_shape``: 1 on the first ``d`` features/channels
    (the data x), 0 on the label part. The conditional gradient penalty measures
    ||grad_x f(x, y)|| only over x (``lipschitz.gradient_penalty(..., mask=...)``)."""
    xp = get_backend() if xp is None else xp
    mask = xp.zeros((1, joined_shape[1]) + (1,) * (len(joined_shape) - 2), dtype=dtype)
    mask[:, :d] = 1
    return mask


# -- MLPs -------------------------------------------------------------------------------

_ACTIVATIONS = {"leakyrelu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "tanh": nn.Tanh}


def _check_sizes(where, **sizes):
    """Clear errors for non-positive sizes (``n_classes`` may be 0: unconditional)."""
    for name, value in sizes.items():
        values = value if isinstance(value, tuple) else (value,)
        smallest = 0 if name == "n_classes" else 1
        if len(values) == 0 or any(int(v) != v or v < smallest for v in values):
            what = "a non-empty tuple of ints" if isinstance(value, tuple) else "an int"
            raise ValueError(f"{where}: {name} must be {what} >= {smallest}, got {value!r}")


def _mlp(sizes, activation, out_layers, rng, dtype):
    """Linear/activation stack over ``sizes`` = (in, h_1, ..., h_L, out), then ``out_layers``."""
    if activation not in MLP_ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {MLP_ACTIVATIONS}")
    hidden_init = "glorot" if activation == "tanh" else "he"
    layers = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(n_in, n_out, init=hidden_init, rng=rng, dtype=dtype),
                   _ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-2], sizes[-1], init="glorot", rng=rng, dtype=dtype))
    return nn.Sequential(*layers, *out_layers).flatten()


def mlp_generator(noise_dim: int = 100, hidden=(256, 512, 1024), out_dim: int = 784,
                  n_classes: int = 0, activation: str = "leakyrelu", rng=None,
                  dtype=DEFAULT_DTYPE):
    """x_fake = tanh(W_L h_{L-1} + b_L), h_l = phi(W_l h_{l-1} + b_l), h_0 = [z, y].

    Input (m, noise_dim + n_classes), output (m, out_dim) in (-1, 1) like the data.
    """
    hidden = tuple(hidden)
    _check_sizes("mlp_generator", noise_dim=noise_dim, hidden=hidden, out_dim=out_dim,
                 n_classes=n_classes)
    sizes = (noise_dim + n_classes,) + hidden + (out_dim,)
    return _mlp(sizes, activation, [nn.Tanh()], rng, dtype)


def mlp_discriminator(in_dim: int = 784, hidden=(1024, 512, 256), n_classes: int = 0,
                      activation: str = "leakyrelu", rng=None, dtype=DEFAULT_DTYPE,
                      out_dim: int = 1):
    """s = W_L h_{L-1} + b_L (a logit / critic value, no sigmoid), h_0 = [x, y].

    Input (m, in_dim + n_classes), output (m, out_dim): 1, or InfoGAN's 1 + K + n_cont
    (D's logit and Q's outputs from the shared body). The sigmoid of the GAN discriminator
    lives in the loss (``losses.bce_with_logits``), where it is evaluated stably; WGAN
    and LSGAN use s as it is.
    """
    hidden = tuple(hidden)
    _check_sizes("mlp_discriminator", in_dim=in_dim, hidden=hidden, n_classes=n_classes,
                 out_dim=out_dim)
    sizes = (in_dim + n_classes,) + hidden + (out_dim,)
    return _mlp(sizes, activation, [], rng, dtype)


# -- DCGAN (Radford et al. 2016) for 28x28 single-channel images ----------------------

def _dcgan_batchnorm(num_features, rng, dtype):
    """BatchNorm with gamma ~ N(1, 0.02^2), beta = 0 (the DCGAN authors' ``bn_init``)."""
    bn = nn.BatchNorm(num_features, dtype=dtype)
    rng = default_rng() if rng is None else rng
    gamma = bn.params["gamma"]
    gamma[...] = 1 + DCGAN_STD * rng.standard_normal(size=gamma.shape).astype(dtype)
    return bn


def dcgan_generator(noise_dim: int = 100, n_classes: int = 0, width: int = 64, rng=None,
                    dtype=DEFAULT_DTYPE):
    """DCGAN generator for 28x28 images (Radford et al. 2016, MNIST variant of their code).

        [z, y]   (m, k + K)
        Linear -> BatchNorm -> ReLU        (m, 2w*7*7)     "project"
        Reshape                            (m, 2w, 7, 7)   "and reshape"
        ConvTranspose2d(2w, w, 4, 2, 1) -> BatchNorm -> ReLU   (m, w, 14, 14)
        ConvTranspose2d(w, 1, 4, 2, 1) -> Tanh                 (m, 1, 28, 28)

    with w = ``width`` (64). ConvTranspose2d output size: (H - 1) s - 2p + k = 2H.
    No BatchNorm on the output layer (Radford sec. 3). Layers followed by BatchNorm have
    no bias: BatchNorm's beta takes its place. BatchNorm of the projection is per
    feature, as in the authors' MNIST code (``batchnorm(T.dot(Z, w))``, then reshape).
    """
    _check_sizes("dcgan_generator", noise_dim=noise_dim, n_classes=n_classes, width=width)
    c1, c2 = 2 * width, width
    return nn.Sequential(
        nn.Linear(noise_dim + n_classes, c1 * 7 * 7, bias=False, init="normal", std=DCGAN_STD,
                  rng=rng, dtype=dtype),
        _dcgan_batchnorm(c1 * 7 * 7, rng, dtype),
        nn.ReLU(),
        nn.Reshape((c1, 7, 7)),
        _conv(c1, c2, 4, 2, 1, False, "normal", rng, dtype, nn.ConvTranspose2d),
        _dcgan_batchnorm(c2, rng, dtype),
        nn.ReLU(),
        _conv(c2, 1, 4, 2, 1, True, "normal", rng, dtype, nn.ConvTranspose2d),
        nn.Tanh(),
    ).flatten()


def dcgan_discriminator(batchnorm: bool | None = None, n_classes: int = 0, in_channels: int = 1,
                        width: int = 64, rng=None, dtype=DEFAULT_DTYPE,
                        spectral_norm: bool = False, out_dim: int = 1):
    """DCGAN discriminator for 28x28 images; outputs logits s (m, 1).

        [x, y maps]  (m, C + K, 28, 28)
        Conv2d(C+K, w, 4, 2, 1) -> LeakyReLU(0.2)                    (m, w, 14, 14)
        Conv2d(w, 2w, 4, 2, 1) -> [BatchNorm] -> LeakyReLU(0.2)      (m, 2w, 7, 7)
        Flatten -> Linear(2w*7*7, 1)                                 (m, 1)

    Conv output size H' = (H + 2p - k) // s + 1 = (28 + 2 - 4) // 2 + 1 = 14, then 7.
    No BatchNorm on the first layer (Radford sec. 3: "not applying batchnorm to ... the
    discriminator input layer"). ``batchnorm=False`` gives a critic that supports the
    gradient penalty (BatchNorm mixes samples, so per-sample input gradients do not
    exist; Gulrajani et al. sec. 4).

    ``spectral_norm=True`` is SN-GAN's discriminator (Miyato et al. 2018): every Conv2d
    and the Linear become ``SpectralNormConv2d`` / ``SpectralNormLinear`` (W / sigma(W),
    one power step per training forward) and there is no BatchNorm. ``batchnorm``
    defaults to ``not spectral_norm``; asking for both is a ValueError. ``out_dim`` > 1:
    InfoGAN's D and Q heads on the shared body (the last Linear has out_dim outputs).
    """
    _check_sizes("dcgan_discriminator", n_classes=n_classes, in_channels=in_channels, width=width,
                 out_dim=out_dim)
    spectral_norm = bool(spectral_norm)
    if batchnorm is None:
        batchnorm = not spectral_norm
    if batchnorm and spectral_norm:
        raise ValueError("dcgan_discriminator: spectral_norm=True replaces BatchNorm (SN-GAN's "
                         "discriminator has none); pass batchnorm=False or leave it unset")
    conv = nn.SpectralNormConv2d if spectral_norm else nn.Conv2d
    c1, c2 = width, 2 * width
    layers = [
        _conv(in_channels + n_classes, c1, 4, 2, 1, True, "normal", rng, dtype, conv),
        nn.LeakyReLU(0.2),
        _conv(c1, c2, 4, 2, 1, not batchnorm, "normal", rng, dtype, conv),
    ]
    if batchnorm:
        layers.append(_dcgan_batchnorm(c2, rng, dtype))
    layers += [
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        (nn.SpectralNormLinear if spectral_norm else nn.Linear)(
            c2 * 7 * 7, out_dim, init="normal", std=DCGAN_STD, rng=rng, dtype=dtype),
    ]
    return nn.Sequential(*layers).flatten()


def infogan_generator(input_dim: int = 112, rng=None, dtype=DEFAULT_DTYPE):
    """InfoGAN's MNIST generator (Chen et al. 2016, appendix C.1, Table 1):

        [z, c]   (m, input_dim)    noise and codes
        Linear -> BatchNorm -> ReLU                              (m, 1024)
        Linear -> BatchNorm -> ReLU -> Reshape                   (m, 128, 7, 7)
        ConvTranspose2d(128, 64, 4, 2, 1) -> BatchNorm -> ReLU   (m, 64, 14, 14)
        ConvTranspose2d(64, 1, 4, 2, 1) -> Tanh                  (m, 1, 28, 28)

    The authors' code ends in a sigmoid (pixels in [0, 1]); tanh(a) = 2 sigmoid(2a) - 1 is
    the same family on tinygan's [-1, 1]. Layers before BatchNorm have no bias (beta
    takes its place; theirs has one, which BatchNorm cancels).
    """
    _check_sizes("infogan_generator", input_dim=input_dim)
    return nn.Sequential(
        _linear(input_dim, 1024, False, rng, dtype),
        _dcgan_batchnorm(1024, rng, dtype),
        nn.ReLU(),
        _linear(1024, 128 * 7 * 7, False, rng, dtype),
        _dcgan_batchnorm(128 * 7 * 7, rng, dtype),
        nn.ReLU(),
        nn.Reshape((128, 7, 7)),
        _conv(128, 64, 4, 2, 1, False, "normal", rng, dtype, nn.ConvTranspose2d),
        _dcgan_batchnorm(64, rng, dtype),
        nn.ReLU(),
        _conv(64, 1, 4, 2, 1, True, "normal", rng, dtype, nn.ConvTranspose2d),
        nn.Tanh(),
    ).flatten()


def infogan_discriminator(n_cat: int = 10, n_cont: int = 2, slope: float = 0.1, rng=None,
                          dtype=DEFAULT_DTYPE):
    """InfoGAN's MNIST discriminator and Qn (Chen et al. 2016, appendix C.1, Table 1):
    one body, two heads, outputs (m, 1 + n_cat + n_cont) = [s, l_q, mu_q].

        x  (m, 1, 28, 28)
        Conv2d(1, 64, 4, 2, 1) -> LeakyReLU                          (m, 64, 14, 14)
        Conv2d(64, 128, 4, 2, 1) -> BatchNorm -> LeakyReLU           (m, 128, 7, 7)
        Flatten -> Linear(6272, 1024) -> BatchNorm -> LeakyReLU      (m, 1024)
        Heads(Linear(1024, 1),                                       D: the logit s
              Linear(1024, 128) -> BatchNorm -> LeakyReLU
                  -> Linear(128, n_cat + n_cont))                    Qn: l_q, mu_q

    LeakyReLU slope 0.1 (the paper's "leaky rate 0.1"). Layers before BatchNorm have no
    bias.
    """
    _check_sizes("infogan_discriminator", n_cat=n_cat)
    integer(n_cont, "n_cont", "infogan_discriminator", low=0)
    return nn.Sequential(
        _conv(1, 64, 4, 2, 1, True, "normal", rng, dtype),
        nn.LeakyReLU(slope),
        _conv(64, 128, 4, 2, 1, False, "normal", rng, dtype),
        _dcgan_batchnorm(128, rng, dtype),
        nn.LeakyReLU(slope),
        nn.Flatten(),
        _linear(128 * 7 * 7, 1024, False, rng, dtype),
        _dcgan_batchnorm(1024, rng, dtype),
        nn.LeakyReLU(slope),
        nn.Heads(_linear(1024, 1, True, rng, dtype),
                 nn.Sequential(_linear(1024, 128, False, rng, dtype),
                               _dcgan_batchnorm(128, rng, dtype), nn.LeakyReLU(slope),
                               _linear(128, n_cat + n_cont, True, rng, dtype))),
    ).flatten()


def wgangp_conv_critic(n_classes: int = 0, in_channels: int = 1, width: int = 64, rng=None,
                       dtype=DEFAULT_DTYPE):
    """The MNIST critic of Gulrajani et al. 2017's code (``gan_mnist.py``, mode wgan-gp).

        [x, y maps]  (m, C + K, 28, 28)
        Conv2d(C+K, w, 5, 2, 2) -> LeakyReLU(0.2)     (m, w, 14, 14)
        Conv2d(w, 2w, 5, 2, 2) -> LeakyReLU(0.2)      (m, 2w, 7, 7)
        Conv2d(2w, 4w, 5, 2, 2) -> LeakyReLU(0.2)     (m, 4w, 4, 4)
        Flatten -> Linear(4w*4*4, 1)                  (m, 1)

    H' = (H + 4 - 5) // 2 + 1: 28 -> 14 -> 7 -> 4, the sizes of TensorFlow's 'SAME'
    padding used there. No BatchNorm, so every layer has the jvp pair the gradient penalty
    needs. He initialisation (the authors' ``he_init`` for LeakyReLU convolutions).
    """
    _check_sizes("wgangp_conv_critic", n_classes=n_classes, in_channels=in_channels, width=width)
    channels = (in_channels + n_classes, width, 2 * width, 4 * width)
    blocks = [layer for c_in, c_out in zip(channels, channels[1:])  # drawn in order: one rng
              for layer in (_conv(c_in, c_out, 5, 2, 2, True, "he", rng, dtype), nn.LeakyReLU(0.2))]
    return nn.Sequential(*blocks, nn.Flatten(),
                         nn.Linear(channels[-1] * 4 * 4, 1, init="glorot", rng=rng, dtype=dtype)).flatten()


def _linear(n_in, n_out, bias, rng, dtype):
    """A Linear with DCGAN's N(0, 0.02^2) weights."""
    return nn.Linear(n_in, n_out, bias=bias, init="normal", std=DCGAN_STD, rng=rng, dtype=dtype)


def _conv(c_in, c_out, k, stride, padding, bias, init, rng, dtype, layer=nn.Conv2d):
    return layer(c_in, c_out, k, stride=stride, padding=padding, bias=bias, init=init,
                 std=DCGAN_STD, rng=rng, dtype=dtype)

# -- Goodfellow et al. 2014, the MNIST models of their code (mnist.yaml) ---------------

def sigmoid_bias_from_marginals(x, eps: float = 1e-7):
    """b = logit(clip(mean_i x_i, eps, 1 - eps)) per pixel, so that sigmoid(b) has the
    data's pixel marginals: pylearn2's ``init_sigmoid_bias_from_marginals`` (same clip).
    ``x``: (N, d) data in [0, 1] (host or device). Returns a (d,) array of x's module."""
    xp = get_array_module(x)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"sigmoid_bias_from_marginals: expected data of shape (N, d), "
                         f"got {tuple(x.shape)}")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError("sigmoid_bias_from_marginals: expected data in [0, 1] (pixel / 255), "
                         f"got values in [{float(x.min())}, {float(x.max())}]")
    p = xp.clip(x.astype(xp.float64).mean(axis=0), eps, 1 - eps)
    return xp.log(p) - xp.log1p(-p)


def goodfellow_generator(noise_dim: int = 100, hidden: int = 1200, out_dim: int = 784,
                         marginals_of=None, irange: float = 0.05, rng=None,
                         dtype=DEFAULT_DTYPE):
    """Goodfellow et al. 2014's MNIST generator (``mnist.yaml``, ``generator.mlp``):

        z (m, 100) -> Linear -> ReLU (1200) -> Linear -> ReLU (1200) -> Linear -> Sigmoid (784)

    Weights U(-0.05, 0.05) (pylearn2's ``irange: .05``), biases 0, except the output
    bias: with ``marginals_of`` (training data (N, 784) in [0, 1]) it is set so that
    sigmoid(b) equals the data's mean pixel values (``init_sigmoid_bias_from_marginals``);
    a blank generator then already draws the average digit. Output in (0, 1).
    """
    _check_sizes("goodfellow_generator", noise_dim=noise_dim, hidden=hidden, out_dim=out_dim)
    lin = [nn.Linear(n_in, n_out, init="uniform", irange=irange, rng=rng, dtype=dtype)
           for n_in, n_out in ((noise_dim, hidden), (hidden, hidden), (hidden, out_dim))]
    if marginals_of is not None:
        if marginals_of.ndim != 2 or marginals_of.shape[1] != out_dim:
            raise ValueError(f"goodfellow_generator: marginals_of must be data of shape (N, "
                             f"{out_dim}), got {tuple(marginals_of.shape)}")
        b = lin[2].params["b"]
        b[...] = get_array_module(b).asarray(sigmoid_bias_from_marginals(marginals_of),
                                             dtype=b.dtype)
    return nn.Sequential(lin[0], nn.ReLU(), lin[1], nn.ReLU(), lin[2], nn.Sigmoid()).flatten()


#: (include_prob, scale) of the dropout on the input of each D layer (mnist.yaml:
#: discriminator_input_include_probs {'h0': .8}, default .5; input_scales {'h0': 1.25},
#: default 2.)
GOODFELLOW_DROPOUT = ((0.8, 1.25), (0.5, 2.0), (0.5, 2.0))


def goodfellow_discriminator(in_dim: int = 784, units: int = 240, pieces: int = 5,
                             irange: float = 0.005, dropout=GOODFELLOW_DROPOUT, seed: int = 0,
                             rng=None, dtype=DEFAULT_DTYPE):
    """Goodfellow et al. 2014's MNIST discriminator (``mnist.yaml``): two maxout layers of
    240 units x 5 pieces and a sigmoid unit, with dropout on the input of every layer.

        x (m, 784) -> Dropout(.8, 1.25) -> Linear(784, 1200) -> Maxout(240, 5)
                   -> Dropout(.5, 2)    -> Linear(240, 1200) -> Maxout(240, 5)
                   -> Dropout(.5, 2)    -> Linear(240, 1)    -> s (logit)

    pylearn2's Maxout layer is Linear + Maxout here; its Sigmoid output layer is the last
    Linear, with the sigmoid in the loss (``losses.bce_with_logits``). Weights
    U(-0.005, 0.005), biases 0. ``dropout``: (include_prob, scale) per layer input; the
    dropout layers draw their masks from seeds (seed, 0), (seed, 1), (seed, 2) mixed into
    one int each. In eval mode (``D.eval()``) dropout is the identity.
    """
    _check_sizes("goodfellow_discriminator", in_dim=in_dim, units=units, pieces=pieces)
    if len(dropout) != 3:
        raise ValueError(f"goodfellow_discriminator: dropout needs (include_prob, scale) for "
                         f"each of the 3 layers, got {dropout!r}")
    sizes = ((in_dim, units * pieces), (units, units * pieces), (units, 1))
    layers = []
    for i, ((n_in, n_out), (p, scale)) in enumerate(zip(sizes, dropout)):
        layers += [nn.Dropout(p, scale, seed=_dropout_seed(seed, i)),
                   nn.Linear(n_in, n_out, init="uniform", irange=irange, rng=rng, dtype=dtype)]
        if i < 2:
            layers.append(nn.Maxout(units, pieces))
    return nn.Sequential(*layers).flatten()


def _dropout_seed(seed: int, layer: int) -> int:
    return derived_seed(seed, layer, 7)


# -- PacGAN / VEEGAN's pair for the 2-D mixtures (Lin et al. 2018, sec. 5.1) -------------

def pacgan_toy_generator(noise_dim: int = 2, hidden: int = 400, depth: int = 4,
                         out_dim: int = 2, rng=None, dtype=DEFAULT_DTYPE):
    """The generator of PacGAN's ring and grid experiments (VEEGAN's setup; Lin et al.'s
    released code, ``synthetic_data_experiments``): ``depth`` hidden layers of ``hidden``
    ReLU units, each with BatchNorm, and a linear output (no tanh: grid25 spans [-4, 4]^2).

        z (m, noise_dim) -> [Linear (no bias) -> BatchNorm -> ReLU] x depth -> Linear -> x (m, out_dim)

    Weights N(0, 0.02^2), biases 0 (their ``IsotropicGaussian(0.02)``, ``Constant(0)``); the
    hidden Linear layers have no bias, BatchNorm's beta takes its place. The running
    statistics move by 0.05 per step (their population update p <- 0.95 p + 0.05 m).
    """
    _check_sizes("pacgan_toy_generator", noise_dim=noise_dim, hidden=hidden, depth=depth,
                 out_dim=out_dim)
    layers, n_in = [], noise_dim
    for _ in range(depth):
        layers += [nn.Linear(n_in, hidden, bias=False, init="normal", std=DCGAN_STD, rng=rng,
                             dtype=dtype),
                   nn.BatchNorm(hidden, momentum=0.05, dtype=dtype), nn.ReLU()]
        n_in = hidden
    layers.append(nn.Linear(n_in, out_dim, init="normal", std=DCGAN_STD, rng=rng, dtype=dtype))
    return nn.Sequential(*layers).flatten()


def pacgan_toy_discriminator(in_dim: int = 2, units: int = 200, pieces: int = 5, depth: int = 3,
                             rng=None, dtype=DEFAULT_DTYPE):
    """The discriminator of PacGAN's ring and grid experiments: ``depth`` maxout layers of
    ``units`` units with ``pieces`` pieces each, and a linear unit (the logit; the sigmoid
    lives in the loss). ``in_dim`` is 2 m for PacGAN's packing of m samples.

        x (m, in_dim) -> [Linear(., units * pieces) -> Maxout(units, pieces)] x depth
                      -> Linear(units, 1) -> s

    Weights N(0, 0.02^2), biases 0. No dropout, no normalisation: it can serve as a
    WGAN-GP critic as it is.
    """
    _check_sizes("pacgan_toy_discriminator", in_dim=in_dim, units=units, pieces=pieces,
                 depth=depth)
    layers, n_in = [], in_dim
    for _ in range(depth):
        layers += [nn.Linear(n_in, units * pieces, init="normal", std=DCGAN_STD, rng=rng,
                             dtype=dtype),
                   nn.Maxout(units, pieces)]
        n_in = units
    layers.append(nn.Linear(n_in, 1, init="normal", std=DCGAN_STD, rng=rng, dtype=dtype))
    return nn.Sequential(*layers).flatten()
