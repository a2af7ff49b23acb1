"""Draw the figures of docs/derivations.md: python docs/make_figures.py (needs matplotlib).

penalty_passes.png: the gradient penalty's passes for f(x) = w2 tanh(w1 x + b1), as
tinygan runs them (forward, tangent, reverse through both), beside reverse-over-reverse.
"""
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent


CHAR = 0.118         # data units per character at fontsize 8.5 in the left panel


def node(ax, x, y, text, color="#eef3fb"):
    """A box centred at (x, y); returns its half-width in data units."""
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5, family="monospace",
            bbox=dict(boxstyle="round,pad=0.35", fc=color, ec="#4a6fa5", lw=0.8))
    return CHAR * max(len(line) for line in text.splitlines()) / 2 + 0.2


def arrow(ax, p, q, label="", color="#333333", dashed=False, offset=(0, 0.1)):
    ax.annotate("", xy=q, xytext=p, arrowprops=dict(
        arrowstyle="-|>", color=color, lw=0.9, ls="--" if dashed else "-",
        shrinkA=0, shrinkB=0))
    if label:
        ax.text((p[0] + q[0]) / 2 + offset[0], (p[1] + q[1]) / 2 + offset[1], label,
                ha="center", va="bottom", fontsize=8, color=color)


def row(ax, xs, y, texts, color, backwards=False, arrow_color="#333333"):
    halves = [node(ax, x, y, t, color) for x, t in zip(xs, texts)]
    for i in range(len(xs) - 1):
        a, b = (xs[i] + halves[i], y), (xs[i + 1] - halves[i + 1], y)
        arrow(ax, b if backwards else a, a if backwards else b, color=arrow_color)
    return halves


def tinygan_panel(ax):
    ax.set_title("tinygan: reverse-over-forward, f(x) = w2 tanh(w1 x + b1)", fontsize=10)
    xs = [0.0, 3.0, 6.0, 9.0]
    yf, yt, yr = 3.0, 1.9, 0.6
    for name, y in (("forward", yf), ("tangent", yt), ("reverse", yr)):
        ax.text(-1.3, y, name, ha="right", va="center", fontsize=9, style="italic")
    row(ax, xs, yf, ["x_hat", "a = w1 x + b1", "h = tanh(a)", "s = w2 h"], "#eef3fb")
    row(ax, xs, yt, ["x_dot = dg", "a_dot = w1 x_dot", "h_dot = phi'(a) a_dot",
                     "s_dot = w2 h_dot"], "#f3f9ee")
    row(ax, xs, yr, ["dw1 = x da\n  + x_dot da_dot\ndb1 = da",
                     "da = dh_dot phi''(a) a_dot\nda_dot = dh_dot phi'(a)",
                     "dh = 0, dh_dot = w2\ndw2 = h_dot", "ds = 0\nds_dot = 1"],
        "#fbf1ee", backwards=True, arrow_color="#a5452a")
    # where the tangent and reverse passes read the forward pass's a
    arrow(ax, (xs[1] + 0.4, yf - 0.22), (xs[2] - 0.6, yt + 0.22), "phi'(a)", "#4a6fa5",
          dashed=True, offset=(0.35, -0.05))
    arrow(ax, (xs[1] - 0.4, yf - 0.22), (xs[1] - 0.4, yr + 0.34), "", "#a5452a", dashed=True)
    ax.text(xs[1] - 0.3, 1.2, "phi''(a)", fontsize=8, color="#a5452a")
    ax.text(-1.3, 3.65, "before: g = w2 phi'(a) w1 by one backward pass, "
            "dg = 2 (|g| - 1) sign(g) (Step 1)", fontsize=8.5, ha="left")
    ax.set_xlim(-2.4, 10.6)
    ax.set_ylim(0.0, 3.9)
    ax.axis("off")


def autograd_panel(ax):
    ax.set_title("autograd: reverse-over-reverse", fontsize=10)
    node(ax, 0, 3.0, "forward x -> a -> h -> s\n(graph recorded)")
    node(ax, 0, 1.9, "backward 1: g = w2 phi'(a) w1\nrecorded as a new graph\n(create_graph=True)",
         "#f3f9ee")
    node(ax, 0, 0.6, "backward 2: through graph 1\nto theta: differentiates\nphi'(a), giving phi''(a)",
         "#fbf1ee")
    arrow(ax, (0, 2.68), (0, 2.28))
    arrow(ax, (0, 1.52), (0, 0.98))
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(0.0, 3.9)
    ax.axis("off")


def penalty_passes(path):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 3.6),
                                      gridspec_kw={"width_ratios": [3.3, 1.1]})
    tinygan_panel(left)
    autograd_panel(right)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    small_png(path)


def small_png(path):
    """Re-save with a 32-colour palette: a line drawing needs no more, and the file shrinks
    about threefold."""
    from PIL import Image

    Image.open(path).convert("RGB").quantize(colors=32).save(path, optimize=True)


if __name__ == "__main__":
    penalty_passes(HERE / "penalty_passes.png")
