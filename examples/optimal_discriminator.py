"""The optimal discriminator and critic, shown on two known 1-D Gaussians.

    python examples/optimal_discriminator.py                  # runs/optimal/...
    python examples/optimal_discriminator.py --out docs       # the docs figure

p_data = N(-2, 1) and p_g = N(2, 1) are fixed (G is the map z -> 2 + z, never trained).
Three discriminators train against them with tinygan's own trainers (their
``discriminator_step``: the inner loop of each algorithm box):

* a GAN discriminator (Goodfellow et al. 2014), to convergence: its D(x) = sigma(s(x)) is
  compared with D*(x) = p_data / (p_data + p_g) (Prop. 1) on a grid, and its value
  V(D, G) = int p_data log D + p_g log(1 - D) with -log 4 + 2 JS(p_data || p_g) (Thm. 1),
  JS by quadrature (tinygan.optimal);
* a weight-clipped critic (WGAN) and a gradient-penalty critic (WGAN-GP's penalty, taken
  one-sided: see KINDS), drawn beside the saturating D as in Arjovsky et al. 2017, Figure 2.

Every model is a 1 -> width -> width -> 1 tanh MLP; the learning rate falls linearly to 0
over the second half of the steps so that the stochastic updates settle. Writes
optimal_discriminator.png and optimal_discriminator.json into --out and prints:
sup |D - D*| on [-4, 4] (the means +- 2 std), V(D, G), -log 4 + 2 JS and, at x = 0, 2
(the fakes' mean) and 4, the gradient a generator receives from each: d/dx log(1 - D)
(the minimax loss, which saturates where D rejects the fakes) and d/dx f for the critics
(constant up to curvature).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from _blas import set_blas_threads  # examples/_blas.py: sets BLAS threads before NumPy loads

DATA = (-2.0, 1.0)       # p_data = N(mean, std^2)
FAKE = (2.0, 1.0)        # p_g
CHECK = (-4.0, 4.0)      # where |D - D*| is measured: both means +- 2 std
PROBES = (0.0, 2.0, 4.0)  # where the generator's gradient is printed
GRID = (-8.0, 8.0, 1601)  # quadrature grid: both densities < 1e-7 at its ends
# name -> (make_trainer loss, its options). The penalty is one-sided (Petzka et al. 2018,
# max(0, |f'| - 1)^2): in one dimension the two-sided (|f'| - 1)^2 has two wells, f' = +1
# and f' = -1, with a barrier of height lam at f' = 0 between them, and a critic that
# starts with the wrong sign of f' stays there (seeds 0 and 3 of 0-5: the Wasserstein
# estimate settled at -3.3 and -2.9 instead of about +5). With two or more input
# dimensions the gradient can turn round without passing through 0.
KINDS = {"gan": ("nsgan", {}), "clipped critic": ("wgan", {}),
         "penalty critic": ("wgan-gp", {"one_sided": True})}


def build_parser():
    p = argparse.ArgumentParser(
        prog="optimal_discriminator.py",
        description="Train a GAN discriminator and two WGAN critics against two fixed 1-D "
                    "Gaussians; compare D with D* and V(D, G) with -log 4 + 2 JS.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=10000, help="updates of each discriminator")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--width", type=int, default=32, help="hidden units per layer")
    p.add_argument("--lr", type=float, default=3e-3, help="starting learning rate (all three)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join("runs", "optimal"))
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (default 1; 0 leaves BLAS alone)")
    return p


def train(kind, a, log=print, **options):
    """A discriminator (``kind`` a make_trainer loss, with its ``options``) trained for
    a.steps updates against p_g; returns it in eval mode."""
    from tinygan import backend, models, nn
    from tinygan.train import make_trainer

    rng = backend.make_rng(a.seed)
    D = models.mlp_discriminator(1, (a.width, a.width), activation="tanh", rng=rng)
    G = nn.Sequential(nn.Linear(1, 1))           # x = mean + std z, z ~ N(0, 1): p_g exactly
    G[0].params["W"][...] = FAKE[1]
    G[0].params["b"][...] = FAKE[0]
    trainer = make_trainer(kind, G, D, noise_dim=1, seed=a.seed, lr=a.lr, **options)
    data_rng = backend.make_rng(a.seed + 1)
    lr0 = trainer.opt_D.lr
    t0 = time.perf_counter()
    for t in range(a.steps):
        trainer.opt_D.lr = lr0 * min(1.0, (a.steps - t) / (0.5 * a.steps))
        x_real = DATA[0] + DATA[1] * data_rng.standard_normal((a.batch_size, 1), dtype=trainer.dtype)
        trainer.discriminator_step(x_real, None)     # D / critic only: G stays p_g
    log(f"  {kind:<8} {a.steps} updates in {time.perf_counter() - t0:.1f} s")
    return D.eval()


def scores_and_slopes(D, x):
    """s(x) and ds/dx on the grid (float64 host arrays)."""
    from tinygan import backend, lipschitz

    xs = backend.asarray(x[:, None], dtype=D.parameters()[0][0].dtype)
    slope = backend.to_numpy(lipschitz.input_gradient(D, xs))[:, 0].astype("float64")
    s = backend.to_numpy(D.forward(xs))[:, 0].astype("float64")
    return s, slope


def measure(a, log=print):
    """Train the three models; returns (results dict, grid, densities, curves)."""
    import numpy

    from tinygan import optimal
    from tinygan.nn.functional import sigmoid

    x = numpy.linspace(*GRID)
    p_data, p_g = optimal.gaussian_density(x, *DATA), optimal.gaussian_density(x, *FAKE)
    d_star = optimal.optimal_discriminator(p_data, p_g)
    js = optimal.js_divergence(p_data, p_g, x)
    inside = (x >= CHECK[0]) & (x <= CHECK[1])
    probes = [int(numpy.argmin(abs(x - p))) for p in PROBES]
    results = {"p_data": DATA, "p_g": FAKE, "steps": a.steps, "batch_size": a.batch_size,
               "width": a.width, "lr": a.lr, "seed": a.seed, "js": js,
               "value_optimal": -math.log(4) + 2 * js}
    curves = {}
    for name, (kind, options) in KINDS.items():
        s, slope = scores_and_slopes(train(kind, a, log, **options), x)
        curves[name] = s
        if kind == "nsgan":
            d = sigmoid(s)
            results["sup_error"] = float(abs(d - d_star)[inside].max())
            results["value"] = optimal.game_value(s, p_data, p_g, x)
            # d/dx log(1 - sigma(s)) = -sigma(s) s'(x): the minimax generator's gradient
            results["gradient_gan_minimax"] = [float(-d[i] * slope[i]) for i in probes]
        else:
            results[f"gradient_{kind}"] = [float(slope[i]) for i in probes]
    results["value_gap"] = abs(results["value"] - results["value_optimal"])
    return results, x, (p_data, p_g, d_star), curves


def _rescaled(f, x):
    """f affinely mapped to 1 at the data mean and 0 at the fakes' mean (critics are
    defined up to a constant and, clipped, have a tiny scale)."""
    import numpy

    hi, lo = (numpy.interp(m, x, f) for m in (DATA[0], FAKE[0]))
    return (f - lo) / (hi - lo)


def main(argv=None):
    parser = build_parser()
    a = parser.parse_args(argv)
    for name in ("steps", "batch_size", "width"):
        if getattr(a, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if not a.lr > 0:
        parser.error(f"--lr must be > 0, got {a.lr}")
    set_blas_threads(a.threads)
    try:
        import tinygan  # noqa: F401
    except ImportError:  # running from a source checkout without installing
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tinygan import backend, plot
    from tinygan.atomic import atomic_open
    from tinygan.nn.functional import sigmoid

    backend.set_backend("numpy", seed=a.seed)
    print(f"p_data = N{DATA}, p_g = N{FAKE} (mean, std); {a.steps} updates, batch "
          f"{a.batch_size}, width {a.width}, lr {a.lr:g} -> 0, seed {a.seed}")
    r, x, (p_data, p_g, d_star), curves = measure(a)
    os.makedirs(a.out, exist_ok=True)
    d = sigmoid(curves["gan"])
    panels = [
        ("GAN discriminator and D* = p_data / (p_data + p_g)",
         {"D(x) trained": d, "D*(x)": d_star}),
        ("saturating D beside the critics (rescaled: 1 at mu_data, 0 at mu_g)",
         {"D(x)": d, "clipped critic (WGAN)": _rescaled(curves["clipped critic"], x),
          "penalty critic (one-sided GP)": _rescaled(curves["penalty critic"], x)}),
    ]
    figure = plot.save_curves_1d(x, p_data, p_g, panels,
                                 os.path.join(a.out, "optimal_discriminator.png"))
    with atomic_open(os.path.join(a.out, "optimal_discriminator.json"), "w") as f:
        json.dump(r, f, indent=2)
    print(f"sup |D - D*| on [{CHECK[0]:g}, {CHECK[1]:g}]: {r['sup_error']:.4f}")
    print(f"V(D, G) = {r['value']:.6f};  -log 4 + 2 JS = {r['value_optimal']:.6f} "
          f"(JS = {r['js']:.6f});  gap {r['value_gap']:.2e}")
    print("the generator's gradient at x = " + ", ".join(f"{p:g}" for p in PROBES) + ":")
    for label, key in (("minimax GAN, d/dx log(1 - D)", "gradient_gan_minimax"),
                       ("clipped critic, f'", "gradient_wgan"),
                       ("penalty critic, f'", "gradient_wgan-gp")):
        print(f"  {label:<30}" + "  ".join(f"{g:10.3e}" for g in r[key]))
    print(f"picture: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
