"""benchmarks/recipe_ablation.py: its cells build what they name, and a tiny study runs,
resumes and tabulates."""
import json
import os
import subprocess
import sys

import numpy
import pytest

from tinygan import backend, models, nn, optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import recipe_ablation  # noqa: E402

SCRIPT = os.path.join(ROOT, "benchmarks", "recipe_ablation.py")


def test_joined_switches_merge_and_unknown_ones_are_refused():
    loss, overrides, extra, source = recipe_ablation.lookup("wgan-gp/lr2e-4+batch50+beta1=0.5")
    assert loss == "wgan-gp"
    assert overrides == {"lr": 2e-4, "betas": (0.5, 0.9)} and extra == {"batch_size": 50}
    assert source.count(" + ") == 2 and "gan_mnist.py" in source
    with pytest.raises(KeyError):
        recipe_ablation.lookup("wgan/warmup+lr9")
    r = subprocess.run([sys.executable, SCRIPT, "--configs", "wgan/beta1=0.5"], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "unknown config" in r.stderr


def test_cells_build_the_named_critic_initialisation_and_optimiser():
    backend.set_backend("numpy", seed=0)
    G, D = recipe_ablation.build_models({"init": "normal"}, backend.make_rng(0))
    for net in (G, D):
        for layer in net.layers:
            if isinstance(layer, nn.Linear):   # N(0, 0.02^2): the sample std is near 0.02
                assert abs(float(layer.params["W"].std()) - 0.02) < 0.002
    G, D = recipe_ablation.build_models({"critic": "conv"}, backend.make_rng(0))
    assert isinstance(D.layers[1], nn.Conv2d) and not D.mixes_samples
    assert D(numpy.zeros((3, 784), numpy.float32)).shape == (3, 1)
    default_D = models.mlp_discriminator(rng=backend.make_rng(0))
    assert len(recipe_ablation.build_models({}, backend.make_rng(0))[1].layers) == len(default_D.layers)
    x = numpy.zeros((128, 784), numpy.float32)
    args = recipe_ablation.parse_args(["--g-steps", "1"])
    trainer, figures = recipe_ablation.train_cell("wgan/adam", 0, x, args, log=lambda *_: None)
    assert isinstance(trainer.opt_D, optim.Adam) and trainer.opt_D.lr == 1e-4
    assert (figures["g_steps"], figures["d_steps"], figures["batch_size"]) == (1, 5, 64)


def test_classifier_id_names_the_shipped_weights():
    from tinygan import classifier

    assert recipe_ablation.classifier_id() == classifier.SHIPPED_SHA256[:16]
