"""tinygan.plot: grids, loss curves and scatter progressions are valid PNGs."""
import os
import struct
import sys

import numpy
import pytest

from tinygan import plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the IHDR chunk, after checking the PNG signature."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def assert_png(path, min_bytes=1000):
    assert os.path.isfile(path)
    assert os.path.getsize(path) > min_bytes
    w, h = png_size(path)
    assert w > 50 and h > 50
    # no temporary file left next to it
    assert [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")] == []
    return w, h


def _images(xp, rng, n):
    return xp.tanh(rng.standard_normal((n, 784), dtype=xp.float32))


def test_make_grid_layout_and_range():
    a = numpy.linspace(-1, 1, 3 * 4, dtype=numpy.float32).reshape(3, 2, 2)
    grid = plot.make_grid(a, nrow=2, padding=1, pad_value=0.5)
    # rows = 2, cols = 2, cell = 3 -> 2*3+1 square
    assert grid.shape == (7, 7)
    assert grid.min() >= 0 and grid.max() <= 1
    # image 0 top-left, image 1 top-right, image 2 bottom-left, empty cell padded
    numpy.testing.assert_allclose(grid[1:3, 1:3], (a[0] + 1) / 2)
    numpy.testing.assert_allclose(grid[1:3, 4:6], (a[1] + 1) / 2)
    numpy.testing.assert_allclose(grid[4:6, 1:3], (a[2] + 1) / 2)
    assert numpy.all(grid[4:6, 4:6] == 0.5)
    assert numpy.all(grid[0] == 0.5) and numpy.all(grid[:, 3] == 0.5)


def test_sample_grid_flat_and_nchw(xp, rng, tmp_path):
    x = _images(xp, rng, 100)
    w, h = assert_png(plot.save_sample_grid(x, tmp_path / "flat.png"))
    # 10 x 10 digits of 28 px, padding 2, scale 2: (10*30+2)*2
    assert (w, h) == (604, 604)
    nchw = x.reshape(100, 1, 28, 28)[:25]
    w, h = assert_png(plot.save_sample_grid(nchw, tmp_path / "nchw.png", nrow=5))
    assert (w, h) == ((5 * 30 + 2) * 2, (5 * 30 + 2) * 2)


def test_sample_grid_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="square number"):
        plot.save_sample_grid(numpy.zeros((4, 10), numpy.float32), tmp_path / "x.png")
    with pytest.raises(ValueError, match="one channel"):
        plot.save_sample_grid(numpy.zeros((4, 3, 28, 28), numpy.float32), tmp_path / "x.png")
    assert not os.path.exists(tmp_path / "x.png")


def test_loss_curves(tmp_path):
    r = numpy.random.default_rng(0)
    history = {"iteration": list(range(0, 200, 10)),
               "loss_D": list(r.random(20)), "loss_G": list(r.random(20)),
               "wasserstein": list(r.standard_normal(20)), "d_real": [float("nan")] * 20}
    assert_png(plot.save_loss_curves(history, tmp_path / "losses.png"))
    with pytest.raises(ValueError, match="same length"):
        plot.save_loss_curves({"loss_D": [1.0], "loss_G": [1.0, 2.0]}, tmp_path / "bad.png")


def test_loss_curves_with_one_point_draw_it(tmp_path, monkeypatch):
    """A one-epoch smoke run logs one point: a line through one point is invisible, so
    few points get markers (and many points stay plain lines)."""
    from matplotlib.axes import Axes

    drawn = []
    plot_lines = Axes.plot

    def recording_plot(self, *args, **kwargs):
        lines = plot_lines(self, *args, **kwargs)
        drawn.extend(lines)
        return lines

    monkeypatch.setattr(Axes, "plot", recording_plot)
    one = {"iteration": [32.0], "g_step": [32.0], "d_loss": [1.2], "g_loss": [0.8],
           "d_real": [0.6]}
    assert_png(plot.save_loss_curves(one, tmp_path / "one.png"))
    assert len(drawn) == 3
    assert all(line.get_marker() not in (None, "", " ", "None") for line in drawn)
    drawn.clear()
    many = {"iteration": list(range(500)), "d_loss": [1.0] * 500}
    plot.save_loss_curves(many, tmp_path / "many.png")
    assert [line.get_marker() for line in drawn] == ["None"]


def test_scatter_progression_and_table(xp, rng, tmp_path):
    real = rng.standard_normal((500, 2), dtype=xp.float32)
    snaps = [(0, 0.1 * rng.standard_normal((200, 2), dtype=xp.float32)),
             (500, rng.standard_normal((200, 2), dtype=xp.float32))]
    centres = numpy.zeros((1, 2))
    assert_png(plot.save_scatter_progression(snaps, real, tmp_path / "s.png", centres=centres))
    assert_png(plot.save_scatter_table({"GAN": snaps, "WGAN": snaps[:1]}, real, tmp_path / "t.png"))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot.save_scatter_progression([(0, xp.zeros((5, 3)))], real, tmp_path / "bad.png")


def test_overwrite_is_atomic_replace(tmp_path):
    """A second save replaces the file (new inode via os.replace), leaving no temporaries."""
    path = tmp_path / "g.png"
    plot.save_sample_grid(numpy.zeros((4, 784), numpy.float32), path)
    first = path.read_bytes()
    plot.save_sample_grid(numpy.ones((4, 784), numpy.float32), path)
    assert path.read_bytes() != first
    assert sorted(os.listdir(tmp_path)) == ["g.png"]


def test_no_pyplot_imported():
    """Plotting must not select a global backend: pyplot stays unimported."""
    import subprocess

    code = ("import numpy, sys; from tinygan import plot; "
            "plot.save_sample_grid(numpy.zeros((1, 784), numpy.float32), sys.argv[1]); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-c", code, os.path.join(d, "a.png")], check=True)


def test_save_curves_1d(tmp_path):
    x = numpy.linspace(-4, 4, 81)
    p, q = numpy.exp(-(x + 1) ** 2), numpy.exp(-(x - 1) ** 2)
    path = plot.save_curves_1d(x, p, q, [("D", {"D*": p / (p + q)}),
                                         ("two", {"a": x / 4, "b": -x / 4})],
                               tmp_path / "d.png")
    w, h = assert_png(path)
    assert w > h                                   # two panels side by side
    with pytest.raises(ValueError, match="curve 'a' has shape"):
        plot.save_curves_1d(x, p, q, [("bad", {"a": x[:-1]})], tmp_path / "e.png")
    with pytest.raises(ValueError, match="no panels"):
        plot.save_curves_1d(x, p, q, [], tmp_path / "e.png")


def test_save_metric_panels(tmp_path):
    steps, fid = [250, 500, 1000], [300.0, 120.0, 60.0]
    lines = [("nsgan", steps, fid, [5.0, 3.0, 1.0]), ("wgan", steps, [400.0, 200.0, 90.0], None)]
    path = plot.save_metric_panels([("steps", "at equal steps", lines),
                                    ("seconds", None, [("wgan", [7, 14, 28], fid, None)])],
                                   tmp_path / "c.png", ylabel="FID")
    w, h = assert_png(path)
    assert w > h                                   # two panels side by side
    with pytest.raises(ValueError, match="'nsgan' has 3 x and 2 y"):
        plot.save_metric_panels([("s", "", [("nsgan", steps, fid[:2], None)])], tmp_path / "d.png")
    with pytest.raises(ValueError, match="at least one panel"):
        plot.save_metric_panels([], tmp_path / "d.png")
