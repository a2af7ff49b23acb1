"""examples/toy_2d.py's learning-rate decay (--lr-decay) and the recorded ring8 result."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
import toy_2d  # noqa: E402

TOY_2D = os.path.join(ROOT, "examples", "toy_2d.py")


def test_lr_scale_constant_then_linear_to_near_zero():
    steps, f = 1000, 0.25
    assert toy_2d.lr_scale(0, steps, 0.0) == 1.0 and toy_2d.lr_scale(999, steps, 0.0) == 1.0
    assert toy_2d.lr_scale(0, steps, f) == 1.0
    assert toy_2d.lr_scale(750, steps, f) == 1.0            # decay starts at the last quarter
    assert toy_2d.lr_scale(875, steps, f) == pytest.approx(0.5)
    assert toy_2d.lr_scale(999, steps, f) == pytest.approx(1 / 250)   # last update still moves
    assert toy_2d.lr_scale(0, steps, 1.0) == 1.0 and toy_2d.lr_scale(500, steps, 1.0) == 0.5


def test_lr_decay_option_reaches_the_optimisers(tmp_path):
    r = subprocess.run([sys.executable, TOY_2D, "--steps", "8", "--snapshots", "1", "--batch-size", "32",
                        "--width", "8", "--algos", "wgan-gp", "--lr-decay", "0.5", "--threads", "1",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["lr_decay"] == 0.5
    assert res["results"]["wgan-gp"]["final_lr_G"] == pytest.approx(1e-4 * 1 / 4)


def test_lr_decay_out_of_range_is_refused():
    r = subprocess.run([sys.executable, TOY_2D, "--lr-decay", "1.5"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "--lr-decay" in r.stderr
