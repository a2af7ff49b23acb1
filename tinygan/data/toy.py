"""2-D toy distributions for watching mode collapse: two Gaussian mixtures, a Swiss
roll and a spiral. Samples are drawn on the backend of the given generator, float32,
shape (n, 2).

The mixtures follow the PacGAN protocol (Lin et al. 2018, "PacGAN: The power of two
samples in generative adversarial networks", Sec. 5.1; their code,
github.com/fjxmlzn/PacGAN, synthetic_data_experiments/2DRing_GAN&PacGAN/config.py and
2DGrid_GAN&PacGAN/config.py), itself taken from VEEGAN (Srivastava et al. 2017), so
that mode counts and the share of high-quality samples (within 3 std of a mode,
:mod:`tinygan.metrics`) are comparable with their Table 1:

* ``ring8``: 8 equally weighted Gaussians with means (cos(2 pi i / 8), sin(2 pi i / 8)),
  i = 0..7 (radius 1), isotropic std 0.01;
* ``grid25``: 25 equally weighted Gaussians with means (i, j), i, j in {-4, -2, 0, 2, 4},
  isotropic std 0.05.

(WGAN-GP's toy script, gan_toy.py in github.com/igul222/improved_wgan_training, uses
other scales: 8 Gaussians at radius 2 / 1.414 with std 0.02 / 1.414, and the same
5 x 5 grid with std 0.05 divided by 2.828; we do not follow it.)

The continuous sets have no modes to count; they show whether a generator spreads
along a manifold:

* ``swissroll``: the 2-D projection (t cos t, t sin t) of scikit-learn's
  ``make_swiss_roll`` with t = 1.5 pi (1 + 2 u), u ~ U(0, 1), plus N(0, 0.25^2) noise
  per coordinate as in WGAN-GP's toy script, then divided by 4.5 pi (the largest radius;
  WGAN-GP divides by 7.5) so the roll fits the unit box [-1, 1]^2 up to the noise;
* ``spiral``: a two-turn Archimedean spiral r = t, angle 4 pi t, with t = sqrt(u) so the
  density per unit arc length is roughly uniform, plus N(0, 0.02^2) noise; radius <= 1.
"""
from __future__ import annotations

import itertools
import math

import numpy

from .. import backend, checks
from ..backend import get_array_module

__all__ = ["TOY_NAMES", "TOY_MODES", "sample_toy"]

#: name -> (centres (K, 2) float64 NumPy array, isotropic std) for the Gaussian mixtures.
TOY_MODES = {
    "ring8": (
        numpy.array([[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)]
                     for i in range(8)]),
        0.01,
    ),
    "grid25": (
        numpy.array(list(itertools.product(range(-4, 5, 2), repeat=2)), dtype=numpy.float64),
        0.05,
    ),
}
for _centres, _ in TOY_MODES.values():
    _centres.flags.writeable = False  # shared constants: guard against in-place edits

TOY_NAMES = ("ring8", "grid25", "swissroll", "spiral")

_SWISSROLL_NOISE = 0.25            # raw units, as WGAN-GP's toy script
_SWISSROLL_SCALE = 1 / (4.5 * math.pi)
_SPIRAL_TURNS = 2
_SPIRAL_NOISE = 0.02


def sample_toy(name: str, n: int, rng=None):
    """``n`` samples of the 2-D toy distribution ``name``: float32 array (n, 2) on the
    backend of ``rng`` (a NumPy or CuPy ``Generator``; the backend's default generator
    when None). Names: ring8, grid25, swissroll, spiral (see the module docstring)."""
    checks.choice(name, "toy distribution", TOY_NAMES, "sample_toy")
    n = checks.integer(n, "n", "sample_toy", low=1)
    rng = backend.default_rng() if rng is None else rng
    f32 = numpy.float32
    noise = rng.standard_normal((n, 2), dtype=f32)  # drawn first: it fixes xp
    xp = get_array_module(noise)
    if name in TOY_MODES:
        centres, std = TOY_MODES[name]
        k = rng.integers(0, len(centres), size=n)  # equal mixture weights
        return xp.asarray(centres, dtype=f32)[k] + f32(std) * noise
    u = rng.random(n, dtype=f32)
    if name == "swissroll":
        t = f32(1.5 * math.pi) * (1 + 2 * u)
        radius, angle, sigma, scale = t, t, _SWISSROLL_NOISE, _SWISSROLL_SCALE
    else:  # spiral
        r = xp.sqrt(u)
        radius, angle, sigma, scale = r, f32(2 * math.pi * _SPIRAL_TURNS) * r, _SPIRAL_NOISE, 1.0
    points = xp.stack([radius * xp.cos(angle), radius * xp.sin(angle)], axis=1)
    points += f32(sigma) * noise
    return points * f32(scale)
