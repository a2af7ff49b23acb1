"""The example scripts, run as a user would: subprocesses of the real CLIs."""
import json
import os
import subprocess
import sys

import numpy
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_GAN = os.path.join(ROOT, "examples", "mnist_gan.py")
TOY_2D = os.path.join(ROOT, "examples", "toy_2d.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(script, *args, env=None, timeout=300):
    """Run an example; one BLAS thread, since on a small shared CPU (CI, 2 cores) BLAS
    threads competing with other processes are several times slower than one."""
    args = [*map(str, args)] + (["--threads", "1"] if "--help" not in args else [])
    return subprocess.run([sys.executable, script, *args], capture_output=True,
                          text=True, env=env or dict(os.environ), timeout=timeout, cwd=ROOT)


def data_env(mnist_dir):
    env = dict(os.environ)
    env["TINYGAN_DATA"] = os.path.dirname(mnist_dir)
    env["TINYGAN_BACKEND"] = "numpy"
    return env


def assert_png(path):
    assert os.path.getsize(path) > 1000, path
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE, path


def test_mnist_gan_help():
    r = run(MNIST_GAN, "--help")
    assert r.returncode == 0, r.stderr
    for option in ("--loss", "--arch", "--conditional", "--epochs", "--batch-size", "--lr",
                   "--seed", "--backend", "--out", "--resume", "--data-dir", "--n-critic",
                   "--limit", "--n-samples", "--log-every", "--spectral-norm", "--code-accuracy",
                   "--recipe", "--ema"):
        assert option in r.stdout
    assert "wgan-gp" in r.stdout and "dcgan" in r.stdout and "infogan" in r.stdout


def test_mnist_gan_bad_arguments():
    r = run(MNIST_GAN, "--epochs", "0")
    assert r.returncode == 2 and "--epochs must be >= 1" in r.stderr
    r = run(MNIST_GAN, "--loss", "vae")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = run(MNIST_GAN, "--ema", "1")
    assert r.returncode == 2 and "--ema must be in [0, 1)" in r.stderr


def test_mnist_gan_missing_data_is_a_clear_error(tmp_path):
    env = dict(os.environ)
    env.pop("TINYGAN_DATA", None)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")   # no cached copy either
    r = run(MNIST_GAN, "--no-download", "--out", tmp_path / "out", env=env)
    assert r.returncode == 2
    assert "MNIST" in r.stderr and "not found" in r.stderr and "TINYGAN_DATA" in r.stderr
    assert "Traceback" not in r.stderr


def test_mnist_gan_short_real_run_and_resume(mnist_dir, tmp_path):
    """A real (tiny) training run on real MNIST: 1,024 images, one epoch, then resume."""
    out = tmp_path / "run"
    env = data_env(mnist_dir)
    r = run(MNIST_GAN, "--limit", 1024, "--epochs", 1, "--batch-size", 64, "--n-samples", 100,
            "--log-every", 5, "--out", out, "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    assert "epoch 1/1" in r.stdout and "final (iteration 16" in r.stdout
    for name in ("samples_epoch_001.png", "losses.png"):
        assert_png(out / name)
    assert os.path.getsize(out / "checkpoint.npz") > 1_000_000
    s = numpy.load(out / "samples.npy", allow_pickle=False)
    assert s.shape == (100, 784) and s.dtype == numpy.float32
    assert -1 <= s.min() < s.max() <= 1
    config = json.loads((out / "config.json").read_text())
    assert config["limit"] == 1024 and config["ema"] == 0.995      # the default recipe's

    r = run(MNIST_GAN, "--limit", 1024, "--epochs", 2, "--n-samples", 10, "--out", out,
            "--resume", "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout and "epoch 2/2" in r.stdout
    assert_png(out / "samples_epoch_002.png")
    assert numpy.load(out / "samples.npy").shape == (10, 784)

    # resuming with other options is refused, naming the difference
    r = run(MNIST_GAN, "--limit", 1024, "--epochs", 3, "--seed", 1, "--out", out, "--resume",
            env=env)
    assert r.returncode == 2 and "seed" in r.stderr and "Traceback" not in r.stderr
    r = run(MNIST_GAN, "--limit", 1024, "--epochs", 3, "--ema", 0, "--out", out, "--resume",
            env=env)
    assert r.returncode == 2 and "ema" in r.stderr and "Traceback" not in r.stderr


def test_mnist_gan_recipe_and_architecture_names_are_the_packages():
    """Spelled out in the script so that --help needs no NumPy; kept equal here."""
    from tinygan.runs import ARCHS
    from tinygan.train import RECIPE_NAMES

    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import mnist_gan
    finally:
        sys.path.pop(0)
    assert mnist_gan.RECIPES == RECIPE_NAMES
    assert mnist_gan.ARCHS == ARCHS


def test_mnist_gan_recipe_paper_and_authors_select_their_schedules(mnist_dir, tmp_path):
    """--recipe picks the trainer's settings: 640 digits, 10 critic updates. The paper's
    WGAN box makes a G update every 5 critic updates (2); the authors' warm-up holds G
    back for 100 (0); tinygan's default every 2 (5). --recipe is part of the run: resuming
    with another is refused (not given, a resume keeps the run's)."""
    env = data_env(mnist_dir)
    steps = {}
    for name in ("paper", "authors", "default"):
        out = tmp_path / name
        r = run(MNIST_GAN, "--loss", "wgan", "--recipe", name, "--limit", 640, "--epochs", 1,
                "--n-samples", 10, "--log-every", 5, "--out", out, "--no-progress", env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads((out / "config.json").read_text())["recipe"] == name
        assert f"(recipe {name})" in r.stdout
        steps[name] = r.stdout.split("final (iteration ")[1].split(")")[0]
    assert steps == {"paper": "10, G step 2", "authors": "10, G step 0", "default": "10, G step 5"}
    r = run(MNIST_GAN, "--loss", "wgan", "--recipe", "default", "--limit", 640, "--epochs", 2,
            "--out", tmp_path / "paper", "--resume", env=env)
    assert r.returncode == 2 and "recipe" in r.stderr and "Traceback" not in r.stderr


def test_mnist_gan_spectral_norm_dcgan_run(mnist_dir, tmp_path):
    """SN-GAN's discriminator in the main job: a real (tiny) run, 128 digits, one epoch."""
    out = tmp_path / "sn"
    r = run(MNIST_GAN, "--arch", "dcgan", "--spectral-norm", "--limit", 128, "--epochs", 1,
            "--n-samples", 10, "--out", out, "--no-progress", env=data_env(mnist_dir))
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["spectral_norm"] is True
    assert numpy.isfinite(numpy.load(out / "samples.npy")).all()
    r = run(MNIST_GAN, "--spectral-norm")
    assert r.returncode == 2 and "--spectral-norm needs --arch dcgan" in r.stderr


def test_mnist_gan_infogan_run_and_pictures(mnist_dir, tmp_path):
    """--loss infogan: a real (tiny) run, and its two code pictures (rows: the categorical
    code, columns: one continuous code)."""
    out = tmp_path / "info"
    r = run(MNIST_GAN, "--loss", "infogan", "--limit", 128, "--epochs", 1, "--n-samples", 10,
            "--out", out, "--no-progress", env=data_env(mnist_dir))
    assert r.returncode == 0, r.stderr
    assert "mi_cat" in r.stdout
    for name in ("infogan_c1.png", "infogan_c2.png"):
        assert_png(out / name)
    r = run(MNIST_GAN, "--loss", "infogan", "--conditional")
    assert r.returncode == 2 and "unsupervised" in r.stderr
    r = run(MNIST_GAN, "--code-accuracy")
    assert r.returncode == 2 and "--loss infogan" in r.stderr


def test_mnist_gan_infogan_architecture_brings_its_recipe(mnist_dir, tmp_path):
    """--arch infogan: Chen et al.'s networks with their code's batch 128, z 62-d U(-1, 1),
    G's rate 5 times D's (also after --lr on --resume); any other loss is refused."""
    from tinygan import checkpoint

    out, env = tmp_path / "info", data_env(mnist_dir)
    r = run(MNIST_GAN, "--loss", "infogan", "--arch", "infogan", "--limit", 256, "--epochs", 1,
            "--n-samples", 0, "--out", out, "--no-progress", env=env)
    assert r.returncode == 0, r.stderr
    config = checkpoint.load_meta(out / "checkpoint.npz")["trainer"]["config"]
    assert (config["noise_dim"], config["noise"]) == (62, "uniform")
    assert (config["optimizer"]["G"]["lr"], config["optimizer"]["D"]["lr"]) == (1e-3, 2e-4)
    assert "batch_size   128" in r.stdout and "2 minibatches per epoch" in r.stdout
    r = run(MNIST_GAN, "--resume", "--epochs", 2, "--lr", "1e-4", "--out", out, "--no-progress",
            env=env)
    assert r.returncode == 0, r.stderr
    meta = checkpoint.load_meta(out / "checkpoint.npz")["trainer"]["optimizers"]
    assert (meta["opt_G"]["lr"], meta["opt_D"]["lr"]) == (5e-4, 1e-4)
    r = run(MNIST_GAN, "--arch", "infogan", "--loss", "nsgan", env=env)
    assert r.returncode == 2 and "--loss infogan" in r.stderr


def interrupt_when(proc, ready, timeout=300):
    """Wait until ``ready()`` holds while ``proc`` runs, then send SIGINT (Ctrl-C);
    returns (returncode, stdout, stderr). The process is killed if anything fails."""
    import signal
    import time

    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


def test_mnist_gan_ctrl_c_keeps_the_checkpoint(mnist_dir, tmp_path):
    """SIGINT during training: exit status 130, a one-line message, a loadable checkpoint."""
    from tinygan import checkpoint

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, MNIST_GAN, "--limit", "256", "--epochs", "1000", "--n-samples", "0",
         "--out", str(out), "--no-progress", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=data_env(mnist_dir),
        cwd=ROOT)
    # the grid of epoch 2 is written just before its checkpoint: epoch 1's exists
    code, _, err = interrupt_when(proc, (out / "samples_epoch_002.png").exists)
    assert code == 130, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    _, meta = checkpoint.load(out / "checkpoint.npz")
    assert meta["epoch"] >= 1


def test_toy_2d_few_steps(tmp_path):
    r = run(TOY_2D, "--steps", 10, "--snapshots", 2, "--batch-size", 64, "--width", 16,
            "--algos", "nsgan,wgan-gp", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("nsgan.png", "wgan-gp.png", "comparison.png"):
        assert_png(tmp_path / name)
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["steps"] == 10 and set(res["results"]) == {"nsgan", "wgan-gp"}
    for entry in res["results"].values():
        assert entry["n_modes"] == 8 and 0 <= entry["modes_captured"] <= 8
        assert 0.0 <= entry["high_quality_share"] <= 1.0
    assert "modes" in r.stdout and "high quality" in r.stdout


def test_toy_2d_bad_algo():
    r = run(TOY_2D, "--algos", "gan,vae")
    assert r.returncode == 2 and "vae" in r.stderr


@pytest.mark.slow
def test_mnist_gan_learns_digits(mnist_dir, tmp_path):
    """The default MLP GAN for 3 epochs on all of MNIST (about 5 minutes on 2 cores):
    samples must look like MNIST in simple statistics (mostly dark background, ink
    where the digits' ink is, varied)."""
    out = tmp_path / "run"
    r = run(MNIST_GAN, "--epochs", 3, "--n-samples", 2000, "--out", out, "--no-progress",
            env=data_env(mnist_dir), timeout=3600)
    assert r.returncode == 0, r.stderr
    s = numpy.load(out / "samples.npy")
    from tinygan.data import load_mnist

    x, _ = load_mnist("test", data_dir=mnist_dir)
    # background: MNIST is ~80% pixels at -1; a generator of noise blobs is not
    assert (s < -0.9).mean() > 0.6
    # where the ink is: the mean sample matches the mean digit
    corr = numpy.corrcoef(s.mean(axis=0), x.mean(axis=0))[0, 1]
    assert corr > 0.9, corr
    # no collapse onto one image: per-pixel spread comparable to the data's
    assert s.std(axis=0).mean() > 0.5 * x.std(axis=0).mean()


def test_mnist_gan_goodfellow_recipe_short_run_resumes_exactly(mnist_dir, tmp_path):
    """Goodfellow et al.'s recipe for real on 500 MNIST digits (5 minibatches of 100 per
    epoch): two epochs straight equal one epoch and a resume, weights, dropout draw
    counters and optimiser state alike (the schedules follow the restored step count)."""
    env = data_env(mnist_dir)
    common = ("--arch", "goodfellow", "--limit", 500, "--n-samples", 20, "--log-every", 5,
              "--no-progress")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    r = run(MNIST_GAN, *common, "--epochs", 2, "--out", straight, env=env)
    assert r.returncode == 0, r.stderr
    assert "batch_size   100" in r.stdout and "LinearRamp(0.5 -> 0.7" in r.stdout
    assert "final (iteration 10, G step 10)" in r.stdout
    s = numpy.load(straight / "samples.npy")
    assert s.shape == (20, 784) and 0 <= s.min() < s.max() <= 1
    assert_png(straight / "samples_epoch_002.png")
    for args in (("--epochs", 1), ("--epochs", 2, "--resume")):
        r = run(MNIST_GAN, *common, *args, "--out", resumed, env=env)
        assert r.returncode == 0, r.stderr
    a, b = (numpy.load(p / "checkpoint.npz") for p in (straight, resumed))
    weights = [k for k in a.files if k.startswith("trainer.")]
    assert "trainer.D.0.draws" in weights and int(a["trainer.D.0.draws"]) == 20
    for k in weights:
        assert numpy.array_equal(a[k], b[k]), k
    r = run(MNIST_GAN, "--arch", "goodfellow", "--loss", "wgan", "--limit", 500, env=env)
    assert r.returncode == 2 and "--loss gan or nsgan" in r.stderr


PARZEN_CURVE = os.path.join(ROOT, "examples", "parzen_curve.py")


def test_parzen_curve_draws_and_extrapolates(tmp_path):
    """On a log written as ll = 100 + 20 ln e the log-linear fit must find 225 nats at
    e = exp(125 / 20) = 518; a repeated epoch keeps its last line; a bad log is refused."""
    lines = [{"epoch": e, "parzen_ll": 100 + 20 * numpy.log(e), "std_error": 2.0,
              "sigma": 0.2} for e in range(5, 205, 5)]
    lines.insert(3, {"epoch": 20, "parzen_ll": -1e9, "std_error": 2.0, "sigma": 0.2})
    (tmp_path / "parzen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    r = subprocess.run([sys.executable, PARZEN_CURVE, tmp_path, "--out", tmp_path / "c.png"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "log-linear  ll = 100.0 + 20.00 ln e: reaches 225 at epoch 518" in r.stdout
    assert "epoch   20    159.9" in r.stdout
    assert_png(tmp_path / "c.png")
    (tmp_path / "parzen.jsonl").write_text("{\"epoch\": 1}\n")
    r = subprocess.run([sys.executable, PARZEN_CURVE, tmp_path], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and "not a Parzen log line" in r.stderr


EVALUATE = os.path.join(ROOT, "examples", "evaluate.py")


def test_evaluate_bad_input_exits_2_with_one_line(tmp_path):
    r = run(EVALUATE, tmp_path / "nothing")
    assert r.returncode == 2 and "no samples at" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    numpy.save(tmp_path / "bad.npy", numpy.zeros((3, 5), dtype=numpy.float32))
    r = run(EVALUATE, tmp_path / "bad.npy")
    assert r.returncode == 2 and "shape (3, 5)" in r.stderr and "Traceback" not in r.stderr
    r = run(EVALUATE, tmp_path / "bad.npy", "--n", "1")
    assert r.returncode == 2 and "--n must be >= 2" in r.stderr
    r = run(EVALUATE, "--help")
    assert r.returncode == 0 and "--threads" in r.stdout and "--classifier" in r.stdout


def test_evaluate_ctrl_c_is_one_line(mnist_dir, tmp_path):
    """SIGINT while the metrics are computed: exit status 130 and one line, no traceback."""
    import time

    x = numpy.random.default_rng(0).uniform(-1, 1, (2000, 784)).astype(numpy.float32)
    numpy.save(tmp_path / "samples.npy", x)
    env = dict(data_env(mnist_dir), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, EVALUATE, str(tmp_path), "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)

    def evaluating():  # its first line is printed once the evaluation has begun
        return "samples from" in proc.stdout.readline() and time.sleep(0.5) is None

    code, _, err = interrupt_when(proc, evaluating)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_torch_reference_help_without_torch_names_the_extra(tmp_path):
    """benchmarks/torch_reference.py where torch cannot be imported: one line naming the
    [bench] extra (exit 2), not a traceback."""
    hidden = tmp_path / "torch"
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "torch_reference.py"),
                        "--help"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and "[bench]" in r.stderr and "Traceback" not in r.stderr


def test_readme_names_every_example_script():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme.split("## Examples and options", 1)[1].split("\n## ", 1)[0]
    scripts = sorted(n for n in os.listdir(os.path.join(ROOT, "examples"))
                     if n.endswith(".py") and not n.startswith("_"))
    assert len(scripts) >= 4
    for name in scripts:
        assert f"examples/{name}" in section, name
    assert "Two scripts" not in section and "two scripts" not in section


def test_evaluate_reads_samples_of_a_sigmoid_generator(tmp_path, monkeypatch):
    """--value-range 0 1 maps [0, 1] samples to the metrics' [-1, 1]; other ranges are refused."""
    import importlib.util
    monkeypatch.syspath_prepend(os.path.join(ROOT, "examples"))      # its _blas helper
    spec = importlib.util.spec_from_file_location("evaluate_example",
                                                  os.path.join(ROOT, "examples", "evaluate.py"))
    evaluate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate)
    x = numpy.random.default_rng(0).random((5, 784)).astype(numpy.float32)
    numpy.save(tmp_path / "samples.npy", x)
    got = evaluate.load_samples(str(tmp_path), 4, (0, 1))
    assert got.shape == (4, 784) and numpy.allclose(got, 2 * x[:4] - 1)
    assert numpy.array_equal(evaluate.load_samples(str(tmp_path), 4), x[:4])
    with pytest.raises(evaluate.BadInput, match="--value-range must be"):
        evaluate.load_samples(str(tmp_path), 4, (0, 255))


@pytest.mark.parametrize("n, threads, timeout", [(1, "1", None), (2, "2", "4")])
def test_threads_option_sets_blas_and_tinygan_threads(monkeypatch, n, threads, timeout):
    """--threads N: N BLAS threads and N tinygan threads; for N > 1 idle OpenBLAS workers
    sleep instead of spinning on the cores tinygan's threads need."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "examples"))
    import _blas
    for var in _blas.BLAS_THREAD_VARS + ("TINYGAN_THREADS", "OPENBLAS_THREAD_TIMEOUT"):
        monkeypatch.setenv(var, "")      # restored after the test, whatever the call sets
        monkeypatch.delenv(var)
    _blas.set_blas_threads(n)
    assert all(os.environ[var] == threads for var in _blas.BLAS_THREAD_VARS)
    assert os.environ["TINYGAN_THREADS"] == threads
    assert os.environ.get("OPENBLAS_THREAD_TIMEOUT") == timeout
