"""WGAN: Arjovsky et al. 2017, Algorithm 1 (weight clipping).
Derivations: docs/derivations.md, "Wasserstein losses", "Weight clipping" and
"Training algorithms".

The box (Require: alpha = 5e-5, c = 0.01, m = 64, n_critic = 5)::

    1  while theta has not converged do
    2      for t = 0, ..., n_critic do
    3          Sample {x(i)}_{i=1}^m ~ P_r a batch from the real data.
    4          Sample {z(i)}_{i=1}^m ~ p(z) a batch of prior samples.
    5          g_w <- grad_w [ 1/m sum_i f_w(x(i)) - 1/m sum_i f_w(g_theta(z(i))) ]
    6          w <- w + alpha RMSProp(w, g_w)
    7          w <- clip(w, -c, c)
    8      end for
    9      Sample {z(i)}_{i=1}^m ~ p(z) a batch of prior samples.
   10      g_theta <- -grad_theta 1/m sum_i f_w(g_theta(z(i)))
   11      theta <- theta - alpha RMSProp(theta, g_theta)
   12  end while

One ``step()`` call runs lines 3-7 on the caller's batch (line 3); every n_critic-th call
also lines 9-11 (``Trainer.generator_step``, the G update every box shares). Line 2 read literally runs n_critic + 1 times (t = 0, ..., n_critic);
tinygan, like the authors' code, makes n_critic critic updates per generator update. The critic ascends the Wasserstein estimate of line 5, i.e. descends
``losses.wasserstein_critic`` = mean f(G(z)) - mean f(x); the generator descends
``losses.wasserstein_generator`` = -mean f(G(z)).

Warm-up (``warmup=True``), from the authors' code (``main.py``): 100 critic updates
precede each of the first 25 generator updates and every 500th one
(``Diters = 100 if gen_iterations < 25 or gen_iterations % 500 == 0``), so the critic
is near its optimum when G starts learning. Two details of that code differ from the box
and are NOT copied: it clamps the weights *before* each critic update (the box clips
after, line 7: here the critic always leaves a step inside [-c, c]), and it cuts the
critic loop short at the end of an epoch.
"""
from __future__ import annotations

from .. import checks, lipschitz, losses
from .base import Trainer, _scalar

WARMUP_G_STEPS = 25      # authors' code: gen_iterations < 25 ...
WARMUP_EVERY = 500       # ... or gen_iterations % 500 == 0 ...
WARMUP_N_CRITIC = 100    # ... -> Diters = 100


class WassersteinObjective:
    """The critic and generator objectives shared by WGAN and WGAN-GP (a mixin).

    critic:     mean f(G(z)) - mean f(x)   (Arjovsky Alg. 1 line 5 negated, to descend;
                                            Gulrajani Alg. 1 line 7 without the penalty)
    generator:  -mean f(G(z))              (Arjovsky line 10, Gulrajani line 12)
    """

    def discriminator_loss(self, s_real, s_fake):
        return losses.wasserstein_critic(s_real, s_fake)

    def generator_loss(self, s_fake):
        return losses.wasserstein_generator(s_fake)


class WGAN(WassersteinObjective, Trainer):
    """Arjovsky et al. 2017, Alg. 1. Statistics: d_loss (critic loss), g_loss and
    ``wasserstein`` = mean f(x) - mean f(G(z)) (line 5's estimate, before the update)."""

    loss_name = "wgan"

    def __init__(self, G, D, opt_G, opt_D, n_critic=5, clip=0.01, warmup=False, **kwargs):
        where = type(self).__name__
        self.n_critic = checks.integer(n_critic, "n_critic", where, low=1)
        self.clip = checks.positive(clip, "the clipping bound clip (c)", where)
        self.warmup = bool(warmup)
        super().__init__(G, D, opt_G, opt_D, **kwargs)
        self.config.update(n_critic=self.n_critic, clip=self.clip, warmup=self.warmup)
        lipschitz.clip_weights(self.D, self.clip)   # start inside the compact set W

    def d_updates_per_g(self):
        """Line 2's n_critic, or the authors' warm-up schedule."""
        if self.warmup and (self.g_steps < WARMUP_G_STEPS or self.g_steps % WARMUP_EVERY == 0):
            return WARMUP_N_CRITIC
        return self.n_critic

    def discriminator_step(self, x_real, y_real):
        """Lines 3-7: one critic update on the real batch ``x_real``, then clipping."""
        self.D.zero_grad()
        # line 3: {x(i)} ~ P_r is the caller's batch x_real; line 4: {z(i)} ~ p(z), g(z);
        # line 5: g_w = grad_w [mean f(x) - mean f(g(z))]; we accumulate the gradient of
        #         its negative, the critic loss, and descend it
        d = self._discriminator_gradients(x_real, y_real)
        self.opt_D.step()                               # line 6: w <- w + alpha RMSProp(w, g_w)
        lipschitz.clip_weights(self.D, self.clip)       # line 7: w <- clip(w, -c, c)
        value = _scalar(d.loss.value)
        return {"d_loss": value, "wasserstein": _scalar(-value)}, d.s_fake
