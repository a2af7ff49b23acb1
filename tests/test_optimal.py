"""The optimal discriminator D* = p_data / (p_data + p_g) and V(D*, G) = -log 4 + 2 JS:
the quadrature functions, and a trained discriminator against two known Gaussians."""
import json
import math
import os

import numpy
import pytest

from tinygan import optimal
from test_examples import ROOT, assert_png, run

OPTIMAL = os.path.join(ROOT, "examples", "optimal_discriminator.py")


def _pair(xp, mean_g=2.0, std_g=1.0):
    x = xp.linspace(-10.0, 10.0, 4001)
    return x, optimal.gaussian_density(x, -2.0, 1.0), optimal.gaussian_density(x, mean_g, std_g)


def test_js_divergence_limits(xp):
    x, p, q = _pair(xp)
    assert optimal.integrate(p, x) == pytest.approx(1.0, abs=1e-9)
    assert optimal.js_divergence(p, p, x) == pytest.approx(0.0, abs=1e-12)
    assert optimal.js_divergence(p, q, x) == pytest.approx(optimal.js_divergence(q, p, x),
                                                           abs=1e-12)
    # disjoint supports: JS = log 2 (the 0 log 0 = 0 convention keeps it finite)
    box_a = xp.where((x > -3) & (x < -1), 0.5, 0.0)
    box_b = xp.where((x > 1) & (x < 3), 0.5, 0.0)
    assert optimal.js_divergence(box_a, box_b, x) == pytest.approx(math.log(2), abs=5e-3)
    # two Gaussians far apart approach log 2 from below; nearer ones have less
    far = optimal.js_divergence(p, optimal.gaussian_density(x, 6.0, 1.0), x)
    near = optimal.js_divergence(p, q, x)
    assert near < far < math.log(2)


def test_value_of_the_optimal_discriminator_is_the_js_identity(xp):
    """V(D*, G) = -log 4 + 2 JS by the two quadratures, to round-off; any other D has a
    lower V (D* is the pointwise maximiser)."""
    for mean_g, std_g in ((2.0, 1.0), (0.5, 0.4)):
        x, p, q = _pair(xp, mean_g, std_g)
        s_star = xp.log(p) - xp.log(q)               # logit of D*
        js = optimal.js_divergence(p, q, x)
        v_star = optimal.game_value(s_star, p, q, x)
        assert v_star == pytest.approx(-math.log(4) + 2 * js, abs=1e-8)
        for shift in (-0.3, 0.3):
            assert optimal.game_value(s_star + shift, p, q, x) < v_star - 1e-4
        d_star = optimal.optimal_discriminator(p, q)
        assert float(xp.abs(d_star - 1 / (1 + xp.exp(-s_star))).max()) < 1e-12


def test_bad_grids_are_clear_errors(xp):
    x, p, q = _pair(xp)
    with pytest.raises(ValueError, match="strictly increasing"):
        optimal.js_divergence(p, q, x[::-1])
    with pytest.raises(ValueError, match="grid's shape"):
        optimal.game_value(p[:-1], p, q, x)
    with pytest.raises(ValueError, match="std must be > 0"):
        optimal.gaussian_density(x, 0.0, 0.0)


def test_trained_discriminator_reaches_d_star_and_the_js_identity(tmp_path):
    """The example, shortened: 1,500 updates of each model against N(-2, 1) vs N(2, 1)."""
    r = run(OPTIMAL, "--steps", 1500, "--out", tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert_png(tmp_path / "optimal_discriminator.png")
    res = json.loads((tmp_path / "optimal_discriminator.json").read_text())
    assert res["value_optimal"] == pytest.approx(-math.log(4) + 2 * res["js"])
    assert res["sup_error"] < 0.05                         # sup |D - D*| on [-4, 4]
    assert res["value_gap"] < 2e-3                         # |V(D, G) - (-log 4 + 2 JS)|
    # the minimax generator's gradient saturates where D rejects the fakes (x = 2, 4);
    # the critics' slopes point towards the data (f' < 0) and keep their size
    at0, at2, at4 = res["gradient_gan_minimax"]
    assert at4 < 1e-3 * at0 and at2 < 1e-2 * at0
    for key in ("gradient_wgan", "gradient_wgan-gp"):
        slopes = numpy.array(res[key])
        assert (slopes < 0).all() and slopes.max() / slopes.min() > 0.5, (key, slopes)
