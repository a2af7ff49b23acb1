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
also runs lines 7-8. Line 8's "minimax" loss saturates when D rejects the fakes; the
paper's sec. 3 recommends instead maximising log D(G(z)): ``generator_loss=
"nonsaturating"`` (make_trainer's "nsgan"). D outputs logits s, D(x) = sigma(s).
"""
from __future__ import annotations

from .. import losses
from ..backend import get_array_module
from ..nn.functional import sigmoid
from .base import Trainer, _scalar, check_choice, check_int

GENERATOR_LOSSES = ("minimax", "nonsaturating")


class GAN(Trainer):
    """Goodfellow et al. 2014, Alg. 1, with k D updates per G update (k = 1 in the paper's
    experiments). Statistics: d_loss, g_loss, d_real = mean D(x), d_fake = mean D(G(z))."""

    def __init__(self, G, D, opt_G, opt_D, k=1, generator_loss="nonsaturating", **kwargs):
        where = type(self).__name__
        self.k = check_int(k, "k", 1, where)
        self.generator_loss_name = check_choice(generator_loss, "generator_loss",
                                                GENERATOR_LOSSES, where)
        if self.loss_name is None:     # LSGAN (a subclass) names itself
            self.loss_name = "gan" if generator_loss == "minimax" else "nsgan"
        super().__init__(G, D, opt_G, opt_D, **kwargs)
        self.config.update(k=self.k, generator_loss=self.generator_loss_name)

    def d_updates_per_g(self):
        return self.k                                        # line 2: "for k steps"

    def discriminator_loss(self, s_real, s_fake):
        """-(log D(x) + log(1 - D(G(z)))), averaged: descending it ascends line 5's sum."""
        return losses.discriminator_loss(s_real, s_fake)

    def generator_loss(self, s_fake):
        if self.generator_loss_name == "minimax":
            return losses.generator_loss_minimax(s_fake)      # line 8: log(1 - D(G(z)))
        return losses.generator_loss_nonsaturating(s_fake)    # sec. 3: -log D(G(z))

    def discriminator_step(self, x_real, y_real):
        """Lines 3-5: one discriminator update on the real minibatch ``x_real``."""
        self.D.zero_grad()
        # line 3: z(1..m) ~ p_g(z), and the fakes G(z) (G([z, y]) when conditional)
        x_fake, y_fake = self._draw_fakes(x_real, y_real)
        # line 4: x(1..m) ~ p_data is the caller's minibatch x_real
        # line 5: ascend 1/m sum [log D(x) + log(1 - D(G(z)))] = descend discriminator_loss
        loss, s_real, s_fake = self._discriminator_gradients(
            self._d_input(x_real, y_real), self._d_input(x_fake, y_fake), self.discriminator_loss)
        self.opt_D.step()
        stats = {"d_loss": _scalar(loss.value)}
        stats.update(self._score_stats(s_real, s_fake))
        return stats, s_fake

    def generator_step(self, m, y_real):
        """Lines 7-8: fresh z(1..m) ~ p_g(z), one generator update (D held fixed)."""
        return self._generator_update(m, y_real)

    def _score_stats(self, s_real, s_fake):
        """d_real = mean sigma(s_real) = mean D(x), d_fake = mean D(G(z)) (before the update)."""
        xp = get_array_module(s_real)
        return {"d_real": _scalar(xp.mean(sigmoid(s_real))),
                "d_fake": _scalar(xp.mean(sigmoid(s_fake)))}
