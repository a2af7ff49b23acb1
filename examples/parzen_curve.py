"""Draw a run's Parzen log-likelihood against epochs, and extrapolate it to a target.

    python examples/parzen_curve.py runs/goodfellow --out docs/goodfellow_parzen.png

Reads RUN/parzen.jsonl (one JSON line per evaluation, written by
``mnist_gan.py --parzen-every N``; the last line of an epoch wins if a resumed run
repeated it), plots the mean test log-likelihood +- its standard error against epochs
with the target line (Goodfellow et al. 2014, Table 1: 225 +- 2 nats), and fits two
curves to the measurements from --fit-from on:

* log-linear    ll(e) = a + b ln e               (keeps growing, ever more slowly)
* saturating    ll(e) = c - d exp(-e / tau)      (levels off at c; tau from a grid)
* recent rate   a straight line through the measurements of the last --recent epochs
                (the current slope, kept constant: the most optimistic of the three
                while the curve bends down)

For each it prints (and draws, dashed) the epoch at which the fit reaches --target, or
says that it levels off below it. These are extrapolations of a noisy curve, not
measurements: quote them as such.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

PAPER = 225.0          # Goodfellow et al. 2014, Table 1, MNIST
PAPER_SE = 2.0


def read_log(path):
    """{epoch: row} from a parzen.jsonl (later lines replace earlier ones)."""
    rows = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
                rows[int(row["epoch"])] = row
                for key in ("parzen_ll", "std_error", "sigma"):
                    float(row[key])
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{n}: not a Parzen log line ({err})") from None
    return [rows[e] for e in sorted(rows)]


def fit_log_linear(e, ll):
    """(a, b) of ll = a + b ln e, least squares."""
    b, a = np.polyfit(np.log(e), ll, 1)
    return float(a), float(b)


def fit_saturating(e, ll, taus=None):
    """(c, d, tau) of ll = c - d exp(-e / tau): for each tau on a log grid the model is
    linear in (c, d), solved by least squares; the tau of the smallest residual wins."""
    if taus is None:
        taus = np.geomspace(1.0, 1e4, 400)
    best = None
    for tau in taus:
        basis = np.stack([np.ones_like(e), -np.exp(-e / tau)], axis=1)
        (c, d), *_ = np.linalg.lstsq(basis, ll, rcond=None)
        sse = float(((basis @ np.array([c, d]) - ll) ** 2).sum())
        if best is None or sse < best[0]:
            best = (sse, float(c), float(d), float(tau))
    return best[1:]


def reach_log_linear(a, b, target):
    """Epoch where a + b ln e = target, or None if the fit does not grow."""
    return math.exp((target - a) / b) if b > 0 else None


def reach_saturating(c, d, tau, target):
    """Epoch where c - d exp(-e / tau) = target, or None if it levels off below."""
    if d <= 0 or c <= target:
        return None
    return -tau * math.log((c - target) / d)


def build_parser():
    p = argparse.ArgumentParser(prog="parzen_curve.py", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("run", help="run folder holding parzen.jsonl")
    p.add_argument("--out", default="docs/goodfellow_parzen.png", help="PNG to write")
    p.add_argument("--target", type=float, default=PAPER, help="nats to reach")
    p.add_argument("--fit-from", type=int, default=20,
                   help="fit the measurements from this epoch on (the first epochs "
                        "follow a different, faster regime)")
    p.add_argument("--recent", type=int, default=25,
                   help="epochs at the end of the curve whose slope the straight line keeps")
    p.add_argument("--ymin", type=float, default=None,
                   help="lower end of the y axis (earlier, lower points are then off the plot)")
    p.add_argument("--title", default="Goodfellow et al. 2014 recipe on MNIST: Parzen "
                                      "log-likelihood of the test set")
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    path = os.path.join(a.run, "parzen.jsonl")
    try:
        rows = read_log(path)
    except (OSError, ValueError) as err:
        print(f"parzen_curve.py: error: {err}", file=sys.stderr)
        return 2
    if not rows:
        print(f"parzen_curve.py: error: {path} holds no measurements", file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tinygan import plot

    e = np.array([r["epoch"] for r in rows], dtype=np.float64)
    ll = np.array([r["parzen_ll"] for r in rows])
    se = np.array([r["std_error"] for r in rows])
    for r in rows:
        print(f"epoch {r['epoch']:4d}  {r['parzen_ll']:7.1f} +- {r['std_error']:.1f} nats  "
              f"sigma {r['sigma']:.3f}")
    best = int(np.argmax(ll))
    print(f"best: epoch {int(e[best])}, {ll[best]:.1f} +- {se[best]:.1f}; "
          f"latest: epoch {int(e[-1])}, {ll[-1]:.1f} +- {se[-1]:.1f}")

    extra = []
    use = e >= a.fit_from
    if use.sum() >= 4:
        fe, fll = e[use], ll[use]
        la, lb = fit_log_linear(fe, fll)
        c, d, tau = fit_saturating(fe, fll)
        reach_l = reach_log_linear(la, lb, a.target)
        reach_s = reach_saturating(c, d, tau, a.target)
        print(f"fit on epochs {int(fe[0])}..{int(fe[-1])} ({fe.size} points):")
        print(f"  log-linear  ll = {la:.1f} + {lb:.2f} ln e: " + (
            f"reaches {a.target:g} at epoch {reach_l:.0f}" if reach_l else "does not grow"))
        print(f"  saturating  ll = {c:.1f} - {d:.1f} exp(-e / {tau:.0f}): " + (
            f"reaches {a.target:g} at epoch {reach_s:.0f}" if reach_s else
            f"levels off at {c:.1f}, below {a.target:g}"))
        recent = e >= e[-1] - a.recent
        slope, icpt = np.polyfit(e[recent], ll[recent], 1)
        reach_r = (a.target - icpt) / slope if slope > 0 else None
        print(f"  recent rate {slope:.3f} nats/epoch over epochs {int(e[recent][0])}..{int(e[-1])}: "
              + (f"reaches {a.target:g} at epoch {reach_r:.0f}" if reach_r else "not rising"))
        horizon = max([e[-1] * 1.5] + [r * 1.05 for r in (reach_l, reach_s, reach_r)
                                       if r and r < 50 * e[-1]])

        def upto(start, reach):      # each dashed curve stops a little after its own reach
            end = min(horizon, reach * 1.05) if reach else horizon
            return np.linspace(start, end, 200)

        xs, xe = upto(fe[0], reach_l), upto(fe[0], reach_s)
        extra = [(f"fit a + b ln e (reaches {a.target:g} at epoch {reach_l:.0f})" if reach_l
                  else "fit a + b ln e", xs, la + lb * np.log(xs)),
                 ("fit c - d exp(-e/tau) (" + (f"reaches {a.target:g} at epoch {reach_s:.0f})"
                  if reach_s else f"levels off at {c:.0f})"), xe, c - d * np.exp(-xe / tau))]
        xr = upto(e[recent][0], reach_r)
        extra.append((f"recent rate {slope:.2f}/epoch" + (
            f" (reaches {a.target:g} at epoch {reach_r:.0f})" if reach_r else ""),
            xr, icpt + slope * xr))
    else:
        print(f"fewer than 4 measurements from epoch {a.fit_from} on: no fit")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    plot.save_metric_curve(e, ll, a.out, yerr=se, xlabel="epoch",
                           ylabel="Parzen log-likelihood (nats)", title=a.title,
                           label="tinygan, measured (+- s.e.)",
                           references=[("Goodfellow et al. 2014, Table 1: 225 +- 2", PAPER,
                                        PAPER_SE)], extra=extra, ymin=a.ymin,
                           ymax=max(a.target, float(ll.max())) + 30)
    print(f"figure: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
