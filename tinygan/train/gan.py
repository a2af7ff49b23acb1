"""GAN: Goodfellow et al. 2014, Algorithm 1 (minibatch SGD training of GANs).
Derivations: docs/derivations.md, "GAN losses" and "Training algorithms".

The box (unnumbered in the paper; lines counted from its top)::

    1  for number of training iterations do
    2      for k steps do
    3          Sample minibatch of m noise samples {z(1), ..., z(m)} from noise prior p_g(z).
    4          Sample minibatch of m examples {x(1), ..., x(m)} from p_data(x).
    5          Update the discriminator by ascending its stochastic gradient:
                   grad_theta_d 1/m sum_i [ log D(x(i)) + log(1 - D(G(z(i)))) ]
    6      end for
    7      Sample minibatch of m noise samples {z(1), ..., z(m)} from noise prior p_g(z).
    8      Update the generator by descending its stochastic gradient:
                   grad_theta_g 1/m sum_i log(1 - D(G(z(i))))
    9  end for

One ``step()`` call runs lines 3-5 on the caller's minibatch x (line 4); every k-th call
also runs lines 7-8 (``Trainer.generator_step``, the G update every box shares). Line 8's "minimax" loss saturates when D rejects the fakes; the
paper's sec. 3 recommends instead maximising log D(G(z)): ``generator_loss=
"nonsaturating"`` (make_trainer's "nsgan"). D outputs logits s, D(x) = sigma(s).
"""
from __future__ import annotations

from .. import checks, losses
from ..nn.functional import sigmoid
from .base import Trainer, _scalar

GENERATOR_LOSSES = ("minimax", "nonsaturating")
UPDATES = ("alternating", "simultaneous")


class Algorithm1(Trainer):
    """The loop of Goodfellow et al. 2014, Alg. 1, for any pair of losses: k D updates
    (lines 3-5) per G update (lines 7-8, the shared ``generator_step``). GAN and LSGAN
    fill in the losses and the statistics ``d_real`` / ``d_fake``."""

    def __init__(self, G, D, opt_G, opt_D, k=1, **kwargs):
        self.k = checks.integer(k, "k", type(self).__name__, low=1)
        super().__init__(G, D, opt_G, opt_D, **kwargs)
        self.config["k"] = self.k

    def d_updates_per_g(self):
        return self.k                                        # line 2: "for k steps"

    def discriminator_step(self, x_real, y_real):
        """Lines 3-5: one discriminator update on the real minibatch ``x_real``."""
        self.D.zero_grad()
        # line 3: z(1..m) ~ p_g(z), and the fakes G(z) (G([z, y]) when conditional);
        # line 4: x(1..m) ~ p_data is the caller's minibatch x_real;
        # line 5: ascend 1/m sum [log D(x) + log(1 - D(G(z)))] = descend discriminator_loss
        d = self._discriminator_gradients(x_real, y_real)
        self.opt_D.step()
        return {"d_loss": _scalar(d.loss.value), **self._score_stats(d.s_real, d.s_fake)}, d.s_fake

    def _score_stats(self, s_real, s_fake):
        raise NotImplementedError


class GAN(Algorithm1):
    """Goodfellow et al. 2014, Alg. 1, with k D updates per G update (k = 1 in the paper's
    experiments). Statistics: d_loss, g_loss, d_real = mean D(x), d_fake = mean D(G(z)).

    ``update="alternating"`` (default) runs the box as written: the D update, then a fresh
    z and the G update through the updated D. ``update="simultaneous"`` is what the
    authors' code does (k = 1; their ``AdversaryCost2`` hands both gradients to one SGD
    update): one minibatch of fakes, D's and G's gradients both taken at the current
    parameters, from the same forward passes (so through the same dropout masks of D),
    then both optimisers step. ``d_loss_scale`` multiplies D's loss (their D objective is
    1/2 (BCE_real + BCE_fake): ``d_loss_scale=0.5``); the logged d_loss stays unscaled.
    """

    def __init__(self, G, D, opt_G, opt_D, k=1, generator_loss="nonsaturating",
                 update="alternating", d_loss_scale=1.0, **kwargs):
        where = type(self).__name__
        self.generator_loss_name = checks.choice(generator_loss, "generator_loss",
                                                 GENERATOR_LOSSES, where)
        self.update = checks.choice(update, "update", UPDATES, where)
        if self.update == "simultaneous" and k != 1:
            raise ValueError(f"{where}: update='simultaneous' makes one D and one G update "
                             f"per step, so k must be 1, got k={k}")
        self.d_loss_scale = checks.positive(d_loss_scale, "d_loss_scale", where)
        if self.loss_name is None:     # subclasses (InfoGAN) name themselves
            self.loss_name = "gan" if generator_loss == "minimax" else "nsgan"
        super().__init__(G, D, opt_G, opt_D, k=k, **kwargs)
        self.config["generator_loss"] = self.generator_loss_name
        if self.update != "alternating" or self.d_loss_scale != 1.0:   # older configs stay valid
            self.config.update(update=self.update, d_loss_scale=self.d_loss_scale)

    def step(self, x_real, y_real=None):
        if self.update == "alternating":
            return super().step(x_real, y_real)
        stats = self.simultaneous_step(x_real, self._labels(x_real, y_real))
        self.d_steps += 1
        self._g_loss = stats["g_loss"]
        self._generator_updated()
        return stats

    __call__ = step

    def simultaneous_step(self, x_real, y_real):
        """One D and one G update from the same fakes and the same D forward passes, as
        the authors' code (D sees the real and the fake minibatch in two forwards, each
        with its own dropout masks, like their two ``dropout_fprop`` calls):

            z ~ p_z;  x_fake = G(z)
            s_r = D(x);     D.backward(c dL_D/ds_r)                 D's grads, real part
            s_f = D(x_fake)
            dx  = D.backward(dL_G/ds_f, param_grads=False)         G's signal, D as it is now
            D.backward(c dL_D/ds_f);  G.backward(dx)
            opt_D.step();  opt_G.step()                            both from the same point

        with c = d_loss_scale. Every D loss here is a real term plus a fake term, so the
        real half is done before the fake forward overwrites D's caches.
        """
        c = self.d_loss_scale
        self.D.zero_grad()
        self.G.zero_grad()
        m = x_real.shape[0]
        y_fake = self._fake_labels(m, y_real)
        x_fake = self._generate(m, y_fake)
        self._check_fake(x_fake, x_real)
        s_real = self.D.forward(self._d_input(x_real, y_real))
        self.D.backward(c * self.discriminator_loss(s_real, None).ds_real, need_dx=False)
        s_fake = self.D.forward(self._d_input(x_fake, y_fake))
        g = self.generator_loss(s_fake)
        dx = self.D.backward(g.ds_fake, param_grads=False)
        d = self.discriminator_loss(s_real, s_fake)
        self.D.backward(c * d.ds_fake, need_dx=False)
        self._generator_backward(dx, x_fake, y_fake)
        self.opt_D.step()
        self.opt_G.step()
        return {"d_loss": _scalar(d.value), "g_loss": _scalar(g.value),
                **self._score_stats(s_real, s_fake)}

    def discriminator_loss(self, s_real, s_fake):
        """-(log D(x) + log(1 - D(G(z)))), averaged: descending it ascends line 5's sum."""
        return losses.gan_discriminator(s_real, s_fake)

    def generator_loss(self, s_fake):
        if self.generator_loss_name == "minimax":
            return losses.generator_loss_minimax(s_fake)      # line 8: log(1 - D(G(z)))
        return losses.generator_loss_nonsaturating(s_fake)    # sec. 3: -log D(G(z))

    def _score_stats(self, s_real, s_fake):
        """d_real = mean sigma(s_real) = mean D(x), d_fake = mean D(G(z)) (before the update)."""
        return {"d_real": _scalar(sigmoid(s_real).mean()),
                "d_fake": _scalar(sigmoid(s_fake).mean())}
