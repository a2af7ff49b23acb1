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


MODE_COLLAPSE = os.path.join(ROOT, "benchmarks", "mode_collapse.py")


def run_study(tmp_path, *options):
    """benchmarks/mode_collapse.py with ``options``, its runs and table under tmp_path."""
    args = [sys.executable, MODE_COLLAPSE, *options, "--dir", str(tmp_path / "runs"),
            "--out", str(tmp_path / "mc.md")]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    return r


def test_pack_option_builds_a_packed_discriminator(tmp_path):
    r = subprocess.run([sys.executable, TOY_2D, "--steps", "4", "--snapshots", "1", "--batch-size", "32",
                        "--width", "8", "--algos", "nsgan,wgan-gp", "--pack", "4", "--threads", "1",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "results.json").read_text())["pack"] == 4
    r = subprocess.run([sys.executable, TOY_2D, "--batch-size", "30", "--pack", "4"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "not a multiple of --pack 4" in r.stderr


def test_mode_collapse_study_runs_resumes_and_tabulates(tmp_path):
    """The study, tiny: 2 seeds x 2 algorithms on ring8, 3 generator steps each; a rerun
    reuses the saved runs (same settings) and writes the same table."""
    options = ("--mixtures", "ring8", "--algos", "gan,pacgan4", "--seeds", "2", "--steps", "3",
               "--width", "8", "--batch-size", "32")
    run_study(tmp_path, *options)
    table = (tmp_path / "mc.md").read_text()
    saved = json.loads((tmp_path / "runs" / "ring8" / "pacgan4-seed1.json").read_text())
    assert 0 <= saved["modes_captured"] <= 8 and len(saved["counts"]) == 8
    rows = [line for line in table.splitlines() if line.startswith("| gan |")]
    assert len(rows) == 1 and "| 2 |" in rows[0] and "+-" in rows[0]
    assert "| PacGAN4, Lin et al. 2018, Table 1 | 7.8 +- 0.1 |" in table
    assert os.path.getsize(tmp_path / "runs" / "mode_collapse_ring8.png") > 1000
    run_study(tmp_path, *options)
    assert (tmp_path / "mc.md").read_text() == table


def test_mean_and_standard_error():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import mode_collapse

    mean, se = mode_collapse.mean_se([6, 8, 7, 7, 7])
    assert mean == 7.0 and se == pytest.approx((0.5 / 5) ** 0.5)
    assert mode_collapse.mean_se([3]) == (3.0, 0.0)


def test_mode_collapse_pacgan_setup_uses_its_networks_and_packs(tmp_path):
    """--setup pacgan: PacGAN's networks and optimiser, minibatches counted in packs
    (pacgan4 draws 4 x 8 samples here); 2 generator steps."""
    run_study(tmp_path, "--setup", "pacgan", "--mixtures", "grid25", "--algos", "pacgan4",
              "--seeds", "1", "--steps", "2", "--batch-size", "8")
    saved = json.loads((tmp_path / "runs" / "grid25" / "pacgan4-seed0.json").read_text())
    assert saved["settings"]["arch"] == "pacgan" and saved["settings"]["gan_beta1"] == 0.8
    assert saved["settings"]["lr"] == 1e-4 and saved["settings"]["lr_decay"] == 0.0
    assert saved["batch_size"] == 32 and len(saved["counts"]) == 25
    assert "PacGAN's networks" in (tmp_path / "mc.md").read_text()


def test_gan_beta1_reaches_the_gan_adam_only():
    from types import SimpleNamespace

    from tinygan import backend

    backend.set_backend("numpy", seed=0)
    opts = SimpleNamespace(dataset="ring8", arch="pacgan", width=8, seed=0, lam=0.1, pack=1,
                           lr=1e-4, lr_decay=0.0, gan_beta1=0.8, steps=1, snapshots=1,
                           batch_size=8)
    assert toy_2d.make_toy_trainer("nsgan", opts).opt_G.betas == (0.8, 0.999)
    assert toy_2d.make_toy_trainer("wgan-gp", opts).opt_G.betas == (0.0, 0.9)
