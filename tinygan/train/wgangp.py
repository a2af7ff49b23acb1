"""WGAN-GP: Gulrajani et al. 2017, Algorithm 1 (gradient penalty).
Derivations: docs/derivations.md, "Wasserstein losses", "The gradient penalty by double
backprop" and "Training algorithms".

The box (Require: lambda = 10, n_critic = 5, alpha = 1e-4, beta1 = 0, beta2 = 0.9)::

    1  while theta has not converged do
    2      for t = 1, ..., n_critic do
    3          for i = 1, ..., m do
    4              Sample real data x ~ P_r, latent variable z ~ p(z),
                   a random number eps ~ U[0, 1].
    5              x~ <- G_theta(z)
    6              x^ <- eps x + (1 - eps) x~
    7              L(i) <- D_w(x~) - D_w(x) + lambda (||grad_x^ D_w(x^)||_2 - 1)^2
    8          end for
    9          w <- Adam(grad_w 1/m sum_i L(i), w, alpha, beta1, beta2)
   10      end for
   11      Sample a batch of latent variables {z(i)}_{i=1}^m ~ p(z).
   12      theta <- Adam(grad_theta 1/m sum_i -D_w(G_theta(z(i))), theta, alpha, beta1, beta2)
   13  end while

One ``step()`` call runs lines 3-9 (the per-sample loop 3-8 vectorised over the batch)
on the caller's batch; every n_critic-th call also lines 11-12 (``Trainer.generator_step``,
the G update every box shares). The penalty's parameter
gradient is the double backprop of ``lipschitz.gradient_penalty``, so the critic must not
contain BatchNorm (sec. 4: "no critic batch normalization").

Adam's betas are configurable (``make_trainer(..., betas=...)``): the box says (0, 0.9);
the authors' MNIST and toy scripts (``gan_mnist.py``, ``gan_toy.py``) use (0.5, 0.9).

Conditional critics: the interpolation is taken between the *joined* inputs [x, y] and
[x~, y~] (with ``fake_labels="real"`` the label part is the same on both ends, so x^
carries the real label) and the norm runs over the data part only (``mask``).
"""
from __future__ import annotations

from .. import checks, lipschitz
from ..nn.base import PenaltyIncompatibleError
from .base import Trainer, _scalar
from .wgan import WassersteinObjective


class WGANGP(WassersteinObjective, Trainer):
    """Gulrajani et al. 2017, Alg. 1. Statistics: d_loss (critic loss + penalty), g_loss,
    ``wasserstein`` = mean f(x) - mean f(G(z)), ``gp`` = lam mean (||g|| - 1)^2 and
    ``grad_norm`` = mean ||grad f(x^)||, all before the update."""

    loss_name = "wgan-gp"

    def __init__(self, G, D, opt_G, opt_D, n_critic=5, lam=10.0, one_sided=False, **kwargs):
        where = type(self).__name__
        self.n_critic = checks.integer(n_critic, "n_critic", where, low=1)
        self.lam = checks.real(lam, "the penalty weight lam", where, low=0.0)
        if D.mixes_samples:
            raise PenaltyIncompatibleError(
                f"{where}: the critic contains a layer that mixes samples (BatchNorm); the "
                "gradient penalty needs per-sample input gradients. Build it without "
                "BatchNorm, e.g. models.dcgan_discriminator(batchnorm=False) or "
                "models.wgangp_conv_critic() (Gulrajani et al. 2017, sec. 4)")
        self.one_sided = bool(one_sided)
        super().__init__(G, D, opt_G, opt_D, **kwargs)
        self.config.update(n_critic=self.n_critic, lam=self.lam, one_sided=self.one_sided)

    def d_updates_per_g(self):
        return self.n_critic                                   # line 2

    def discriminator_step(self, x_real, y_real):
        """Lines 3-9 for a whole batch: one critic update on ``x_real``."""
        self.D.zero_grad()
        # line 4: x ~ P_r (the caller's batch), z ~ p(z); line 5: x~ = G(z);
        # line 7, first part: D(x~) - D(x), its gradient added into D's grads
        d = self._discriminator_gradients(x_real, y_real)
        # line 4: eps ~ U[0, 1]; line 6: x^ = eps x + (1 - eps) x~
        x_hat, _ = lipschitz.interpolate(d.x_real, d.x_fake, self.rng)
        # line 7, penalty: lam mean (||grad D(x^)|| - 1)^2, its gradient added too
        gp = lipschitz.gradient_penalty(self.D, x_hat, lam=self.lam, one_sided=self.one_sided,
                                        mask=self._label_mask(x_hat))
        # line 9: w <- Adam(grad_w 1/m sum L(i))
        self.opt_D.step()
        critic = _scalar(d.loss.value)
        return {"d_loss": _scalar(critic + gp.value), "wasserstein": _scalar(-critic),
                "gp": _scalar(gp.value), "grad_norm": _scalar(gp.grad_norm_mean)}, d.s_fake
