"""benchmarks/quality.py: a cell is the example's run, a tiny study trains, resumes
bit-identically, refuses a changed setting, and renders its tables and figure."""
import json
import os
import sys

import numpy
import pytest

from tinygan import backend, checkpoint, runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "examples"))
import quality  # noqa: E402

TINY = ["--train-subset", "256", "--n-samples", "200", "--seeds", "0"]


@pytest.mark.parametrize("algo", ["wgan", "cgan"])
def test_a_cell_is_the_example_default_run(algo):
    """Same weights, optimiser settings and batching as examples/mnist_gan.py's run."""
    import mnist_gan

    loss, conditional = quality.ALGOS[algo]
    x = numpy.zeros((128, 784), numpy.float32)
    y = numpy.arange(128) % 10
    backend.set_backend("numpy", seed=0)
    trainer, batches = quality.build_cell(algo, "mlp", 0, x, y)
    run = mnist_gan._fill_defaults({"loss": loss, "conditional": conditional})
    G, D = runs.build_models(run, backend.make_rng(0), x=x)
    from tinygan.train import make_trainer

    reference = make_trainer(loss, G, D, noise_dim=mnist_gan.NOISE_DIM, conditional=conditional,
                             n_classes=mnist_gan.N_CLASSES, lr=run["lr"], seed=0,
                             **mnist_gan._trainer_options(run))
    assert trainer.config == reference.config
    assert batches.batch_size == run["batch_size"] and (batches.y is not None) == conditional
    mine, theirs = trainer.state_dict(), reference.state_dict()
    assert mine.keys() == theirs.keys()
    for k in mine:
        numpy.testing.assert_array_equal(mine[k], theirs[k])
    if algo == "wgan":   # the default recipe, not the paper's box
        assert trainer.config["n_critic"] == 2 and trainer.opt_D.lr == 2e-4


def test_a_cell_takes_the_named_recipe():
    x, y = numpy.zeros((128, 784), numpy.float32), numpy.arange(128) % 10
    backend.set_backend("numpy", seed=0)
    for name, lr, ema in (("default", 5e-4, 0.995), ("paper", 2e-4, 0.0)):
        trainer, _ = quality.build_cell("nsgan", "mlp", 0, x, y, name)
        assert trainer.opt_G.lr == trainer.opt_D.lr == lr and trainer.ema == ema
    assert quality.build_cell("nsgan", "mlp", 0, x, y, "default", ema=0.0)[0].ema_G is None
    assert quality.parse_args(["--recipe", "paper"]).recipe == "paper"
    assert quality.parse_args(["--ema", "0"]).ema == 0.0
    trainer = quality.build_cell("lsgan", "mlp", 0, x, y, "default", lr=5e-4)[0]
    assert trainer.opt_G.lr == trainer.opt_D.lr == 5e-4 and trainer.ema == 0.995
    assert quality.parse_args(["--lr", "2e-4"]).lr == 2e-4


def test_tiny_study_resumes_bit_identically_and_reports(mnist_dir, tmp_path):
    once, twice = str(tmp_path / "once"), str(tmp_path / "twice")
    algos = ["--algos", "nsgan,wgan-gp"]
    assert quality.main(TINY + algos + ["--steps", "2,4", "--seconds", "0.01", "--dir", once]) == 0
    assert quality.main(TINY + algos + ["--steps", "2", "--dir", twice]) == 0
    curve = json.load(open(os.path.join(twice, "mlp", "nsgan", "seed0", quality.CURVE_NAME)))
    assert [p["at"] for p in curve["points"]] == [2]
    assert quality.main(TINY + algos + ["--steps", "2,4", "--dir", twice]) == 0  # extended
    for algo in ("nsgan", "wgan-gp"):
        a, b = (json.load(open(os.path.join(d, "mlp", algo, "seed0", quality.CURVE_NAME)))
                for d in (once, twice))
        step_points = [p for p in a["points"] if p["mark"] == "steps"]
        assert [p["at"] for p in step_points] == [2, 4] == [p["g_steps"] for p in step_points]
        assert [p["fid"] for p in step_points] == [p["fid"] for p in b["points"]]
        assert all(p["cpu_s"] > 0 and numpy.isfinite(p["fid_b"]) for p in a["points"])
        assert any(p["mark"] == "seconds" and p["at"] == 0.01 for p in a["points"])
        arrays_a, _ = checkpoint.load(os.path.join(once, "mlp", algo, "seed0", quality.CHECKPOINT))
        arrays_b, _ = checkpoint.load(os.path.join(twice, "mlp", algo, "seed0", quality.CHECKPOINT))
        for k in arrays_a:
            numpy.testing.assert_array_equal(arrays_a[k], arrays_b[k])
        assert os.path.isfile(os.path.join(once, "mlp", algo, "seed0", "grid_g00004.png"))
    with pytest.raises(SystemExit, match="another setting"):   # never mixes two settings
        quality.main(["--train-subset", "256", "--n-samples", "100", "--seeds", "0",
                      "--algos", "nsgan", "--steps", "6", "--dir", once])

    out, fig = str(tmp_path / "q.md"), str(tmp_path / "q.png")
    assert quality.main(["--report", "--dir", once, "--out", out, "--figure", fig]) == 0
    text = open(out).read()
    assert "| nsgan | " in text and "| wgan-gp | " in text and "4 G steps" in text
    assert "equal training time" in text and "0.01 s" in text
    import matplotlib.image

    assert matplotlib.image.imread(fig).shape[1] > 1000   # two panels side by side


def test_mean_se_and_eval_noise():
    assert quality.mean_se([1.0, 2.0, 3.0]) == (2.0, pytest.approx(1 / 3 ** 0.5), 3)
    assert quality.mean_se([5.0, float("nan")]) == (5.0, 0.0, 1)
    cells = [{"points": [{"fid": 10.0, "fid_b": 12.0}, {"fid": 20.0, "fid_b": 20.0}]}]
    assert quality.eval_noise(cells) == (pytest.approx(1.0), 2)   # sqrt((4 + 0) / 2 / 2)


def test_bad_arguments_are_refused():
    for argv in (["--algos", "dcgan"], ["--steps", "0"], ["--seconds", "-1"], ["--seeds", "x"]):
        with pytest.raises(SystemExit) as e:
            quality.parse_args(argv)
        assert e.value.code == 2


def test_sngan_is_the_dcgan_run_with_spectral_norm():
    """sngan: examples/mnist_gan.py --arch dcgan --spectral-norm's models; an MLP study
    leaves it out, and asking for it there is an error."""
    from tinygan import nn

    assert "sngan" not in quality.parse_args([]).algos
    assert "sngan" in quality.parse_args(["--arch", "dcgan"]).algos
    with pytest.raises(SystemExit):
        quality.parse_args(["--algos", "sngan"])
    x = numpy.zeros((64, 1, 28, 28), numpy.float32)
    backend.set_backend("numpy", seed=0)
    trainer, _ = quality.build_cell("sngan", "dcgan", 0, x, numpy.zeros(64, numpy.int64))
    layers = [type(layer) for layer in trainer.D.layers]
    assert nn.SpectralNormConv2d in layers and nn.BatchNorm not in layers
    reference = runs.build_models({"loss": "nsgan", "arch": "dcgan", "spectral_norm": True},
                                  backend.make_rng(0))[1]
    for k, v in reference.state_dict().items():
        numpy.testing.assert_array_equal(trainer.D.state_dict()[k], v)


def test_averaging_benchmark_scores_every_beta_from_one_run(mnist_dir, tmp_path):
    """benchmarks/averaging.py: G's own weights and one average per beta at each mark; a
    finished cell is read back, not trained again."""
    import averaging

    args = ["--algos", "nsgan", "--seeds", "0", "--steps", "2,3", "--betas", "0.5,0.9",
            "--n-samples", "50", "--train-subset", "128", "--dir", str(tmp_path),
            "--out", str(tmp_path / "table.md")]
    assert averaging.main(args) == 0
    with open(tmp_path / "nsgan" / "seed0.json") as f:
        cell = json.load(f)
    assert [p["g_steps"] for p in cell["points"]] == [2, 3]
    assert cell["lr"] == 5e-4                           # nsgan's default recipe
    point = cell["points"][-1]
    assert {"none", "0.5", "0.9"} <= set(point) and point["0.5"] != point["none"]
    table = (tmp_path / "table.md").read_text()
    assert "| nsgan | 3 |" in table and "beta 0.9" in table
    cell = tmp_path / "nsgan" / "seed0.json"
    mtime = os.path.getmtime(cell)
    assert averaging.main(args) == 0 and os.path.getmtime(cell) == mtime


def test_averaging_benchmark_on_the_dcgan_pair(mnist_dir, tmp_path, monkeypatch):
    """--arch dcgan: a BatchNorm generator, each average scored with its own statistics;
    the cell is kept apart from the MLP cells and records its architecture."""
    import averaging
    from tinygan.train.base import Trainer

    estimated, own = [], Trainer.average_statistics
    monkeypatch.setattr(Trainer, "average_statistics",
                        lambda self: estimated.append(own(self)) or estimated[-1])

    args = ["--arch", "dcgan", "--algos", "nsgan", "--seeds", "0", "--steps", "2",
            "--betas", "0.5", "--n-samples", "50", "--train-subset", "128", "--dir",
            str(tmp_path)]
    assert averaging.main(args) == 0
    with open(tmp_path / "dcgan" / "nsgan" / "seed0.json") as f:
        cell = json.load(f)
    assert cell["arch"] == "dcgan" and cell["lr"] == 2e-3       # nsgan's default on DCGAN
    point = cell["points"][-1]
    assert point["g_steps"] == 2 and point["0.5"] != point["none"]
    assert estimated and all(set(s) == {"1.running_mean", "1.running_var", "5.running_mean",
                                        "5.running_var"} for s in estimated)
    assert not (tmp_path / "nsgan").exists()
