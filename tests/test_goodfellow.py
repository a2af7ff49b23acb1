"""Goodfellow et al. 2014's MNIST recipe: the simultaneous D/G update through the
dropped-out maxout D (its gradients against central differences), the models, the
schedules, uniform noise, the data split, and a short real run of the recipe."""
import json
import math
import os

import numpy
import pytest

from tinygan import losses, models, optim
from gradcheck import numeric_gradient, rel_error
from tinygan.train import make_trainer


def _small_pair(xp, seed=0):
    """A float64 G (ReLU, sigmoid out) and maxout D with dropout, small enough to check."""
    rng = xp.random.default_rng(seed)
    x_marg = rng.random((20, 12))
    G = models.goodfellow_generator(noise_dim=3, hidden=5, out_dim=12, marginals_of=x_marg,
                                    irange=0.5, rng=rng).astype(xp.float64)
    D = models.goodfellow_discriminator(in_dim=12, units=3, pieces=2, irange=0.5, seed=seed,
                                        rng=rng).astype(xp.float64)
    return G, D


def test_simultaneous_step_gradients(xp):
    """After one simultaneous step D's grads are d(c L_D)/dtheta_D and G's are
    dL_G/dtheta_G, both at the parameters before the update and through the same dropout
    masks and noise: checked against central differences of those two objectives."""
    G, D = _small_pair(xp)
    trainer = make_trainer("nsgan", G, D, noise_dim=3, optimizer="sgd", lr=0.1, momentum=0.5,
                           noise="uniform_sqrt3", update="simultaneous", d_loss_scale=0.5)
    x_real = xp.random.default_rng(5).random((4, 12))
    drawn = []
    sample_noise = trainer.sample_noise
    trainer.sample_noise = lambda m, rng=None: drawn.append(sample_noise(m, rng)) or drawn[-1]
    dropouts = [layer for layer in D.layers if hasattr(layer, "draws")]
    before = {id(p): p.copy() for p, _ in G.parameters() + D.parameters()}
    trainer.step(x_real)
    for p, _ in G.parameters() + D.parameters():      # back to the point the grads belong to
        p[...] = before[id(p)]
    z = drawn[0]

    def scores():
        for layer in dropouts:                        # the step's two draws: real, then fake
            layer.draws = 0
        s_real = D.forward(x_real)
        return s_real, D.forward(G.forward(z))

    def d_objective():
        s_real, s_fake = scores()
        return 0.5 * losses.discriminator_loss(s_real, s_fake).value

    def g_objective():
        return losses.generator_loss_nonsaturating(scores()[1]).value

    for p, g in D.parameters():
        assert rel_error(g, numeric_gradient(d_objective, p)) < 1e-6
    for p, g in G.parameters():
        assert rel_error(g, numeric_gradient(g_objective, p)) < 1e-6
    assert trainer.g_steps == trainer.d_steps == 1
