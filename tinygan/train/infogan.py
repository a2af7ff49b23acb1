"""InfoGAN: Chen et al. 2016, the GAN game plus a variational bound on I(c; G(z, c)).
Derivation: docs/derivations.md, "InfoGAN".

G's input is [z, onehot(c_cat), c_cont]: z ~ p_z (noise_dim), one categorical code
c_cat ~ Cat(1/K) (K = n_cat, 10) and n_cont continuous codes c_cont ~ U(-1, 1). Q shares
all of D's body: D's last layer has 1 + K + n_cont outputs, read as

    out = D(x)  (m, 1 + K + n_cont):   s = out[:, :1]            D's logit
                                       l = out[:, 1:1+K]         Q(c_cat | x) = softmax(l)
                                       mu = out[:, 1+K:]         Q(c_cont | x) = N(mu, I)

The game (eq. 6), with the bound L_I (eq. 5) written as a loss to minimise:

    min_{G, Q} max_D  V(D, G) - lambda L_I(G, Q)
    L_info = lambda_cat CE(l, c_cat) + lambda_cont NLL(mu; c_cont)       on fakes
           = -lambda L_I + const           (CE = -log Q(c_cat|x), NLL = -log Q(c_cont|x))

D's update (D and Q, one optimiser over the shared network) descends
L_D + L_info; G's update descends the non-saturating L_G + L_info, with L_info's
gradient reaching G through Q, i.e. through D's body (the scores' gradient is the column
block [dL_G/ds, dL_info/dl, dL_info/dmu]). lambda_cat = 1 (the paper's for discrete codes);
lambda_cont = 0.1 by default (the paper: smaller for continuous codes, so that
lambda L_I has the GAN objective's scale), sigma = 1 fixed.

Statistics: the GAN's (d_loss, g_loss, d_real, d_fake), ``info`` = L_info on the last
fakes, ``mi_cat`` = log K - CE, the bound on I(c_cat; G(z, c)) in nats (at most log K).
"""
from __future__ import annotations

import math

from .. import losses
from ..backend import get_array_module
from ..checks import integer, real
from .base import _scalar
from .gan import GAN


class InfoGAN(GAN):
    """Chen et al. 2016 on Goodfellow et al.'s Algorithm 1 (k D updates per G update),
    non-saturating generator loss. D must output 1 + n_cat + n_cont columns."""

    loss_name = "infogan"

    def __init__(self, G, D, opt_G, opt_D, n_cat=10, n_cont=2, lambda_cat=1.0,
                 lambda_cont=0.1, k=1, **kwargs):
        where = type(self).__name__
        self.n_cat = integer(n_cat, "n_cat", where, low=2)
        self.n_cont = integer(n_cont, "n_cont", where, low=0)
        self.lambda_cat = real(lambda_cat, "lambda_cat", where, low=0.0)
        self.lambda_cont = real(lambda_cont, "lambda_cont", where, low=0.0)
        self.code_dim = self.n_cat + self.n_cont
        if kwargs.get("conditional") or kwargs.get("pack", 1) != 1:
            raise ValueError(f"{where}: InfoGAN is unconditional and unpacked (its codes play "
                             "the label's part)")
        super().__init__(G, D, opt_G, opt_D, k=k, generator_loss="nonsaturating", **kwargs)
        self.config.update(n_cat=self.n_cat, n_cont=self.n_cont, lambda_cat=self.lambda_cat,
                           lambda_cont=self.lambda_cont)

    # -- the codes ---------------------------------------------------------------------
    def sample_codes(self, m, rng=None):
        """c_cat (m,) ints uniform on [0, K) and c_cont (m, n_cont) ~ U(-1, 1)."""
        rng = self.rng if rng is None else rng
        c_cat = rng.integers(0, self.n_cat, size=m)
        c_cont = 2 * rng.random((m, self.n_cont), dtype=self.dtype) - 1
        return c_cat, c_cont

    def generator_input(self, z, c_cat, c_cont):
        """[z, onehot(c_cat), c_cont] (m, noise_dim + n_cat + n_cont)."""
        xp = get_array_module(z)
        onehot = (c_cat[:, None] == xp.arange(self.n_cat)[None, :]).astype(self.dtype)
        return xp.concatenate([z, onehot, c_cont.astype(self.dtype, copy=False)], axis=1)

    def prior_input(self, m, rng):
        """[z, onehot(c_cat), c_cont] for m draws of the prior and codes, all from ``rng``."""
        return self.generator_input(self.sample_noise(m, rng=rng), *self.sample_codes(m, rng=rng))

    def _generate_with_codes(self, m):
        z = self.sample_noise(m)
        c_cat, c_cont = self.sample_codes(m)
        return self.G.forward(self.generator_input(z, c_cat, c_cont)), c_cat, c_cont

    # -- the losses on D's output columns --------------------------------------------------
    def _split(self, out):
        width = 1 + self.code_dim
        if out.ndim != 2 or out.shape[1] != width:
            raise ValueError(f"{type(self).__name__}: D must output (m, {width}) = 1 logit + "
                             f"{self.n_cat} categorical logits + {self.n_cont} means, got "
                             f"{tuple(out.shape)}")
        return out[:, :1], out[:, 1:1 + self.n_cat], out[:, 1 + self.n_cat:]

    def info_loss(self, out, c_cat, c_cont):
        """(L_info, d out (m, 1 + K + n_cont) with a zero logit column, CE).

            L_info = lambda_cat CE(l, c_cat) + lambda_cont NLL(mu; c_cont)
            dl = lambda_cat (softmax(l) - onehot(c_cat)) / m,  dmu = lambda_cont (mu - c) / m
        """
        _, logits, mu = self._split(out)
        xp = get_array_module(out)
        ce = losses.softmax_cross_entropy(logits, c_cat, check_range=False)
        d_out = xp.zeros_like(out)
        d_out[:, 1:1 + self.n_cat] = self.lambda_cat * ce.dlogits
        value = self.lambda_cat * ce.value
        if self.n_cont:
            nll = losses.gaussian_nll(mu, c_cont)
            d_out[:, 1 + self.n_cat:] = self.lambda_cont * nll.dmu
            value = value + self.lambda_cont * nll.value
        return value, d_out, ce.value

    # -- the algorithm -------------------------------------------------------------------
    def discriminator_step(self, x_real, y_real):
        """One update of D and Q: descend L_D (Alg. 1, line 5) + L_info on the fakes."""
        self.D.zero_grad()
        m = x_real.shape[0]
        x_fake, c_cat, c_cont = self._generate_with_codes(m)
        self._check_fake(x_fake, x_real)
        xp = get_array_module(x_real)
        D = self.D
        if self.separate_batches:       # BatchNorm: real and fake normalised apart
            out_real = D.forward(x_real)
            s_real = self._split(out_real)[0]
            d_real = xp.zeros_like(out_real)
            d_real[:, :1] = self.discriminator_loss(s_real, None).ds_real
            D.backward(d_real, need_dx=False)
            out_fake = D.forward(x_fake)
            s_fake = self._split(out_fake)[0]
            loss = self.discriminator_loss(s_real, s_fake)
            info, d_fake, ce = self.info_loss(out_fake, c_cat, c_cont)
            d_fake[:, :1] = loss.ds_fake
            D.backward(d_fake, need_dx=False)
        else:
            out = D.forward(xp.concatenate([x_real, x_fake], axis=0))
            s_real, s_fake = self._split(out[:m])[0], self._split(out[m:])[0]
            loss = self.discriminator_loss(s_real, s_fake)
            info, d_fake, ce = self.info_loss(out[m:], c_cat, c_cont)
            d_fake[:, :1] = loss.ds_fake
            d_real = xp.zeros_like(d_fake)
            d_real[:, :1] = loss.ds_real
            D.backward(xp.concatenate([d_real, d_fake], axis=0), need_dx=False)
        self.opt_D.step()
        stats = {"d_loss": _scalar(loss.value), "info": _scalar(info),
                 "mi_cat": _scalar(math.log(self.n_cat) - ce)}
        stats.update(self._score_stats(s_real, s_fake))
        return stats, s_fake

    def generator_step(self, m, y_real):
        """One G update: descend -log D(G(z, c)) + L_info (Q, D held fixed)."""
        self.G.zero_grad()
        x_fake, c_cat, c_cont = self._generate_with_codes(m)
        out = self.D.forward(x_fake)
        gl = self.generator_loss(self._split(out)[0])
        info, d_out, _ = self.info_loss(out, c_cat, c_cont)
        d_out[:, :1] = gl.ds_fake
        dx = self.D.backward(d_out, param_grads=False)
        self.G.backward(dx, need_dx=False)
        self.opt_G.step()
        return _scalar(gl.value + info)

    def sample(self, n=None, z=None, y=None, c_cat=None, c_cont=None, averaged=True):
        """x = G([z, onehot(c_cat), c_cont]) in eval mode. With ``n``, z and the codes
        not given are drawn from the sampling generator; with ``z`` given, the codes
        default to c_cat = arange(n) % K and c_cont = 0 (grids: one column per category).
        ``averaged``: with the average of G's weights when kept (``ema``), as ``Trainer``."""
        if y is not None:
            raise ValueError("InfoGAN.sample: the trainer is not conditional (give c_cat)")
        drawn = z is None
        z = self._sampling_noise(n, z)
        n = z.shape[0]
        xp = get_array_module(z)
        if drawn:
            cat, cont = self.sample_codes(n, rng=self._sample_rng)
        else:
            cat, cont = xp.arange(n) % self.n_cat, xp.zeros((n, self.n_cont), dtype=self.dtype)
        c_cat = cat if c_cat is None else xp.asarray(c_cat)
        c_cont = cont if c_cont is None else xp.asarray(c_cont, dtype=self.dtype)
        if tuple(c_cat.shape) != (n,) or tuple(c_cont.shape) != (n, self.n_cont):
            raise ValueError(f"InfoGAN.sample: expected c_cat ({n},) and c_cont ({n}, "
                             f"{self.n_cont}), got {tuple(c_cat.shape)}, {tuple(c_cont.shape)}")
        return self._eval_generator(self.generator_input(z, c_cat, c_cont), averaged)
