"""LSGAN: Mao et al. 2017, least-squares objectives (eq. 2) in Algorithm 1's loop.
Derivations: docs/derivations.md, "Least squares (LSGAN)" and "Training algorithms".

    min_D  V(D) = 1/2 E_x[(D(x) - b)^2] + 1/2 E_z[(D(G(z)) - a)^2]
    min_G  V(G) = 1/2 E_z[(D(G(z)) - c)^2]

with D's output s used as it is (a linear output layer, no sigmoid). The paper has no
algorithm box of its own: training alternates one D update and one G update (k = 1), as
in Goodfellow et al.'s Alg. 1 (see ``gan.py`` for its lines), with Adam, beta1 = 0.5
as in DCGAN (the paper's learning rates vary by data set; the default is DCGAN's 2e-4).
Targets a = 0, b = 1, c = 1 (eq. 9: G wants D to take fakes for real);
a = -1, b = 1, c = 0 is the Pearson chi^2 choice (eq. 8).
"""
from __future__ import annotations

from .. import checks, losses
from .base import _scalar
from .gan import Algorithm1


class LSGAN(Algorithm1):
    """Alg. 1's loop with Mao et al.'s least-squares losses. Statistics: d_loss, g_loss,
    d_real = mean s(x), d_fake = mean s(G(z)) (raw scores: targets b = 1, a = 0)."""

    loss_name = "lsgan"

    def __init__(self, G, D, opt_G, opt_D, k=1, a=0.0, b=1.0, c=1.0, **kwargs):
        self.a, self.b, self.c = (checks.real(v, f"target {name}", "LSGAN")
                                  for name, v in (("a", a), ("b", b), ("c", c)))
        if self.a == self.b:
            raise ValueError(f"LSGAN: the fake and real targets must differ, got a = b = {a}")
        super().__init__(G, D, opt_G, opt_D, k=k, **kwargs)
        self.config.update(a=self.a, b=self.b, c=self.c)

    def discriminator_loss(self, s_real, s_fake):
        """1/2 mean (s_real - b)^2 + 1/2 mean (s_fake - a)^2  (eq. 2, D)."""
        return losses.least_squares_discriminator(s_real, s_fake, a=self.a, b=self.b)

    def generator_loss(self, s_fake):
        """1/2 mean (s_fake - c)^2  (eq. 2, G)."""
        return losses.least_squares_generator(s_fake, c=self.c)

    def _score_stats(self, s_real, s_fake):
        return {"d_real": _scalar(s_real.mean()), "d_fake": _scalar(s_fake.mean())}
