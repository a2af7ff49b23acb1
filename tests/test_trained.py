"""A trained generator one call away: tinygan.trained.load_generator, examples/sample.py,
and tinygan.export's PyTorch state dicts (checked against torch.nn when installed)."""
import contextlib
import os

import numpy
import pytest
from test_examples import ROOT, assert_png, run

from tinygan import backend, checkpoint, loop, runs
from tinygan.backend import to_numpy
from tinygan.data import Minibatches
from tinygan.export import export_run, torch_state_dict
from tinygan.models import join_label
from tinygan.nn.flat import is_flat
from tinygan.trained import load_generator
from tinygan.train import make_trainer

SAMPLE = os.path.join(ROOT, "examples", "sample.py")
CASES = [("mlp", "nsgan", False), ("mlp", "lsgan", True), ("dcgan", "nsgan", True),
         ("mlp", "infogan", False), ("dcgan", "wgan-gp", False)]


def make_run(folder, arch, loss, conditional, n=64):
    """A one-epoch run on n random images, its checkpoint in ``folder``; the trainer."""
    config = {"format": runs.RUN_FORMAT, "arch": arch, "loss": loss, "conditional": conditional,
              "noise_dim": 100, "n_classes": 10}
    options = {"wgan-gp": {"n_critic": 1}, "infogan": {"n_cat": 10, "n_cont": 2}}.get(loss, {})
    # G's average: on MLPs, and on BatchNorm generators (with their own statistics)
    options["ema"] = 0.5 if loss in ("lsgan", "infogan") or arch == "dcgan" else 0.0
    config.update({k: v for k, v in options.items() if k != "n_critic"})
    G, D = runs.build_models(config, backend.make_rng(0))
    trainer = make_trainer(loss, G, D, noise_dim=100, conditional=conditional, n_classes=10,
                           **options)
    r = numpy.random.default_rng(0)
    shape = (n, 784) if arch == "mlp" else (n, 1, 28, 28)
    x = numpy.tanh(r.standard_normal(shape)).astype(numpy.float32)
    y = r.integers(0, 10, size=n)
    batches = Minibatches(x, y if conditional else None, batch_size=32, seed=0)
    loop.fit(trainer, batches, 1, folder, run_meta=config, progress=False, log=None)
    return trainer, x


_RUNS = {}


@contextlib.contextmanager
def the_average(trainer):
    """Within: trainer.G holds the run's average of its weights and that average's
    BatchNorm statistics (``Trainer.average_statistics``), when the run kept one."""
    if trainer.ema_G is None:
        yield
        return
    statistics = trainer.average_statistics()
    live = trainer.G.state_dict()
    own = {k: live[k].copy() for k in statistics}
    with trainer.ema_G.swapped_in():
        trainer.G.load_state_dict({**live, **statistics})
        try:
            yield
        finally:
            trainer.G.load_state_dict({**live, **own})


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def trained_run(runs_dir, arch, loss, conditional):
    """(folder, trainer, x) of make_run, made once per backend and case for this module."""
    key = (backend.backend_name(), arch, loss, conditional)
    if key not in _RUNS:
        folder = runs_dir / "-".join(map(str, key))
        _RUNS[key] = (folder, *make_run(folder, arch, loss, conditional))
    return _RUNS[key]


@pytest.mark.parametrize("arch, loss, conditional", CASES[:4])
def test_load_generator_from_a_run_folder_or_its_checkpoint(xp, runs_dir, arch, loss,
                                                           conditional):
    tmp_path, trainer, _ = trained_run(runs_dir, arch, loss, conditional)
    gen = load_generator(tmp_path)
    assert (gen.noise_dim, gen.n_classes, gen.epoch) == (100, 10 if conditional else 0, 1)
    assert is_flat(gen.net.parameters())           # loaded into the views of one buffer
    z = gen.sample_noise(12, seed=3)
    labels = xp.arange(12) % 10 if conditional else None

    def drawn_by_trainer(averaged=True):
        if loss == "infogan":    # the latent vector is [z, onehot(c_cat), c_cont]
            return trainer.sample(z=z[:, :100], c_cat=z[:, 100:110].argmax(axis=1),
                                  c_cont=z[:, 110:], averaged=averaged)
        return trainer.sample(z=z, y=labels, averaged=averaged)

    if loss == "infogan":
        assert gen.codes == (10, 2) and z.shape == (12, 112)
    want = to_numpy(drawn_by_trainer()).reshape(12, 784)
    numpy.testing.assert_allclose(gen(z, labels), want, rtol=1e-6, atol=1e-6)
    assert gen.averaged == bool(trainer.ema)     # the average, as the run's own samples
    if trainer.ema:
        raw = load_generator(tmp_path, averaged=False)
        want_raw = to_numpy(drawn_by_trainer(averaged=False)).reshape(12, 784)
        assert not raw.averaged and not numpy.allclose(want_raw, want, atol=1e-4)
        numpy.testing.assert_allclose(raw(z, labels), want_raw, rtol=1e-6, atol=1e-6)
    again = load_generator(tmp_path / "checkpoint.npz")
    numpy.testing.assert_array_equal(again.sample(5, seed=1), gen.sample(5, seed=1))
    assert gen.sample(5, seed=1).shape == (5, 784)

    # a checkpoint written without the run configuration: the architecture is inferred
    arrays, meta = checkpoint.load(tmp_path / "checkpoint.npz")
    del meta["run"]
    checkpoint.save(tmp_path / "old.npz", arrays, meta)
    numpy.testing.assert_array_equal(load_generator(tmp_path / "old.npz")(z, labels), gen(z, labels))


def test_a_batchnorm_generators_average_comes_with_its_statistics(runs_dir):
    """The checkpoint holds the average's own BatchNorm statistics; load_generator and the
    export use them, and a checkpoint missing one is refused before anything is copied."""
    backend.set_backend("numpy", seed=0)
    folder, trainer, _ = trained_run(runs_dir, "dcgan", "nsgan", True)
    statistics = trainer.average_statistics()
    assert set(statistics) == {f"{i}.running_{s}" for i in (1, 5) for s in ("mean", "var")}
    gen = load_generator(folder)
    assert gen.averaged
    for name, value in statistics.items():
        numpy.testing.assert_array_equal(to_numpy(gen.net.state_dict()[name]), to_numpy(value))
        assert not numpy.array_equal(to_numpy(trainer.G.state_dict()[name]), to_numpy(value))
    state = export_run(folder)
    numpy.testing.assert_array_equal(state["G.5.running_var"],
                                     to_numpy(statistics["5.running_var"]))
    arrays, meta = checkpoint.load(folder / "checkpoint.npz")
    del arrays["trainer.ema_G_batchnorm.5.running_var"]
    checkpoint.save(folder / "partial.npz", arrays, meta)
    with pytest.raises(checkpoint.CheckpointError, match="BatchNorm statistics do not match"):
        load_generator(folder / "partial.npz")
    assert not load_generator(folder / "partial.npz", averaged=False).averaged


def test_load_generator_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_generator(tmp_path)
    checkpoint.save(tmp_path / "other.npz", {"w": numpy.zeros(3)}, {"format": "x"})
    with pytest.raises(checkpoint.CheckpointError, match="not a training checkpoint"):
        load_generator(tmp_path / "other.npz")


def test_sample_script_writes_grid_samples_interpolation_and_export(runs_dir):
    backend.set_backend("numpy", seed=0)
    tmp_path, _, _ = trained_run(runs_dir, "mlp", "lsgan", True)
    r = run(SAMPLE, tmp_path, "--n", 50, "--grid", 20, "--rows", 3, "--steps", 4, "--seed", 2,
            "--torch", tmp_path / "torch.npz")
    assert r.returncode == 0, r.stderr
    for name in ("grid.png", "interpolation.png"):
        assert_png(tmp_path / "sample" / name)
    s = numpy.load(tmp_path / "sample" / "samples.npy", allow_pickle=False)
    assert s.shape == (50, 784) and s.dtype == numpy.float32
    numpy.testing.assert_allclose(s, load_generator(tmp_path).sample(50, seed=2), atol=1e-5)
    exported = numpy.load(tmp_path / "torch.npz", allow_pickle=False)
    assert {"G.0.weight", "G.0.bias", "D.6.weight"} <= set(exported.files)
    r = run(SAMPLE, tmp_path / "missing")
    assert r.returncode == 2 and "no checkpoint" in r.stderr and "Traceback" not in r.stderr


# -- PyTorch export ---------------------------------------------------------------------

def torch_twin(net):
    """The torch.nn.Sequential with the layers of tinygan's ``net``, as a user would write
    it from tinygan.export's table (fresh torch weights, to be replaced by the export)."""
    torch = pytest.importorskip("torch")
    from tinygan import nn as tnn

    layers = []
    for i, layer in enumerate(net.layers):
        nxt = net.layers[i + 1] if i + 1 < len(net.layers) else None
        if type(layer) is tnn.Linear:
            layers.append(torch.nn.Linear(layer.n_in, layer.n_out, bias="b" in layer.params))
        elif type(layer) in (tnn.Conv2d, tnn.ConvTranspose2d):
            cls = torch.nn.Conv2d if type(layer) is tnn.Conv2d else torch.nn.ConvTranspose2d
            layers.append(cls(layer.c_in, layer.c_out, layer.k, layer.stride, layer.padding,
                              bias="b" in layer.params))
        elif type(layer) is tnn.BatchNorm:
            after_image = i > 0 and type(net.layers[i - 1]) in (tnn.Conv2d, tnn.ConvTranspose2d)
            cls = torch.nn.BatchNorm2d if after_image else torch.nn.BatchNorm1d
            layers.append(cls(layer.num_features, eps=layer.eps, momentum=layer.momentum))
        elif type(layer) is tnn.LeakyReLU:
            layers.append(torch.nn.LeakyReLU(layer.alpha))
        elif type(layer) is tnn.Reshape:
            layers.append(torch.nn.Unflatten(1, tuple(layer.shape)))
        else:
            layers.append({tnn.ReLU: torch.nn.ReLU, tnn.Tanh: torch.nn.Tanh,
                           tnn.Flatten: torch.nn.Flatten}[type(layer)]())
        del nxt
    return torch.nn.Sequential(*layers)


def load_into_torch(model, state):
    torch = pytest.importorskip("torch")
    model.load_state_dict({k: torch.from_numpy(numpy.array(v)) for k, v in state.items()},
                          strict=True)
    return model.eval()


@pytest.mark.parametrize("arch, loss, conditional", CASES)
def test_torch_export_gives_the_same_outputs(runs_dir, arch, loss, conditional):
    """G and D of a trained run (BatchNorm running statistics moved off their initial
    values) exported, loaded into the matching torch.nn models: same outputs."""
    torch = pytest.importorskip("torch")
    backend.set_backend("numpy", seed=0)
    tmp_path, trainer, x = trained_run(runs_dir, arch, loss, conditional)
    state = export_run(tmp_path, tmp_path / "torch.npz")
    on_disk = numpy.load(tmp_path / "torch.npz", allow_pickle=False)
    assert set(on_disk.files) == set(state)
    for key, value in state.items():
        assert value.dtype == (numpy.int64 if key.endswith("num_batches_tracked")
                               else numpy.float32), key
        numpy.testing.assert_array_equal(on_disk[key], value)
    G, D = trainer.G.eval(), trainer.D.eval()
    tG = load_into_torch(torch_twin(G), {k[2:]: v for k, v in state.items() if k[:2] == "G."})
    tD = load_into_torch(torch_twin(D), {k[2:]: v for k, v in state.items() if k[:2] == "D."})

    z = trainer.sample_noise(16)
    y = numpy.eye(10, dtype=numpy.float32)[numpy.arange(16) % 10]
    z_in = join_label(z, y) if conditional else z
    if loss == "infogan":
        z_in = trainer.generator_input(z, *trainer.sample_codes(16))
    x_in = join_label(x[:16], y) if conditional else x[:16]
    with torch.no_grad():
        g_torch = tG(torch.from_numpy(z_in)).numpy()
        d_torch = tD(torch.from_numpy(x_in)).numpy()
    # G's export is the average of its weights (and, with BatchNorm, its statistics) when
    # the run kept one, as load_generator's
    with the_average(trainer):
        g_ours = G.forward(z_in).reshape(16, -1)
    numpy.testing.assert_allclose(g_torch.reshape(16, -1), g_ours, rtol=1e-4, atol=2e-5)
    numpy.testing.assert_allclose(d_torch, D.forward(x_in), rtol=1e-4, atol=2e-5)
    if arch == "dcgan":
        bn = G.layers[1]
        assert not numpy.allclose(bn.running_mean, 0)      # the statistics really were compared


def test_torch_state_dict_layouts_and_refusals():
    from tinygan import nn as tnn

    lin = tnn.Linear(3, 5, rng=backend.make_rng(0))
    state = torch_state_dict(tnn.Sequential(lin, tnn.ReLU()))
    assert state["0.weight"].shape == (5, 3) and state["0.weight"].flags.c_contiguous
    numpy.testing.assert_array_equal(state["0.weight"], to_numpy(lin.params["W"]).T)
    with pytest.raises(ValueError, match="no PyTorch counterpart"):
        torch_state_dict(tnn.Sequential(tnn.SpectralNormLinear(3, 2)))
