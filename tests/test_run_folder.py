"""examples/mnist_gan.py and its run folder, as a user lives with them: real CLI runs.

No run is lost (a new run never replaces another; an interrupted run stays resumable,
config.json and checkpoint.npz agreeing), a resume may change what does not change the
checkpoint's meaning, and explicit paths and printed values mean what they say.
"""
import hashlib
import json
import os
import subprocess
import sys

from test_examples import MNIST_GAN, ROOT, data_env, interrupt_when, run

from tinygan import checkpoint

TINY = ("--limit", 128, "--batch-size", 64, "--n-samples", 10, "--no-progress")


def snapshot(folder):
    """{file name: SHA-256} of everything in ``folder``."""
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def start(out, *args, env):
    """The CLI as a subprocess with unbuffered output (its lines arrive as printed)."""
    env = dict(env, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, MNIST_GAN, *map(str, TINY), "--out", str(out),
                             "--threads", "1", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)


def checkpoint_run(folder):
    """The run configuration inside checkpoint.npz, or None while it cannot be read."""
    try:
        return checkpoint.load_meta(os.path.join(folder, "checkpoint.npz")).get("run")
    except (OSError, ValueError):
        return None


def config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def one_line_error(r, *words):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_no_run_is_lost_refused_replaced_and_interrupted(mnist_dir, tmp_path):
    """Two runs in one folder: the second is refused unless --resume or --overwrite;
    interrupted, a run leaves config.json equal to the checkpoint's configuration."""
    out, env = tmp_path / "run", data_env(mnist_dir)
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    first = snapshot(out)

    r = run(MNIST_GAN, *TINY, "--loss", "lsgan", "--epochs", 1, "--out", out, env=env)
    one_line_error(r, str(out), "holds a run", "--resume", "--overwrite")
    assert snapshot(out) == first
    # options are validated before anything is written, --overwrite included
    r = run(MNIST_GAN, *TINY, "--loss", "lsgan", "--overwrite", "--data-dir", tmp_path / "none",
            "--out", out, env=env)
    one_line_error(r, "--data-dir")
    assert snapshot(out) == first

    # a resumed run with a new learning rate, interrupted after some epochs
    proc = start(out, "--resume", "--epochs", 1000, "--lr", "1e-4", env=env)
    code, _, err = interrupt_when(proc, lambda: (checkpoint_run(out) or {}).get("changes"))
    assert code == 130 and "interrupted" in err and "Traceback" not in err, err
    meta = checkpoint.load_meta(out / "checkpoint.npz")
    assert meta["epoch"] >= 2 and config(out) == meta["run"]
    assert meta["run"]["changes"] == [{"epoch": 2, "changed": {"lr": [5e-4, 1e-4],
                                                               "epochs": [1, 1000]}}]
    r = run(MNIST_GAN, *TINY, "--resume", "--epochs", meta["epoch"] + 1, "--out", out, env=env)
    assert r.returncode == 0 and f"epoch {meta['epoch'] + 1}/" in r.stdout, r.stderr

    # --overwrite: the old run's files go, the new run's come, interrupted mid-way
    proc = start(out, "--loss", "lsgan", "--overwrite", "--epochs", 1000, env=env)
    code, stdout, err = interrupt_when(
        proc, lambda: (checkpoint_run(out) or {}).get("loss") == "lsgan")
    assert code == 130 and "replaced the run" in stdout, err
    meta = checkpoint.load_meta(out / "checkpoint.npz")
    assert config(out) == meta["run"] and meta["run"]["loss"] == "lsgan"
    assert meta["run"]["changes"] == [] and not (out / "samples.npy").exists()
    grids = sorted(n for n in os.listdir(out) if n.startswith("samples_epoch_"))
    assert grids == [f"samples_epoch_{e:03d}.png" for e in range(1, len(grids) + 1)]
    assert len(grids) in (meta["epoch"] - 1, meta["epoch"])  # - 1: drawn after its checkpoint


def test_resume_changes_learning_rate_and_epochs_and_records_them(mnist_dir, tmp_path):
    """The divergence advice (resume with a smaller learning rate) can be followed;
    config.json records the change and its epoch, and the new epochs."""
    out, env = tmp_path / "run", data_env(mnist_dir)
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    r = run(MNIST_GAN, *TINY, "--resume", "--lr", "1e-4", "--epochs", 2, "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    assert "lr 0.0005 -> 0.0001 from epoch 2" in r.stdout   # from nsgan's default recipe
    saved = config(out)
    assert saved["epochs"] == 2 and saved["lr"] == 1e-4
    assert saved["changes"] == [{"epoch": 2, "changed": {"lr": [5e-4, 1e-4], "epochs": [1, 2]}}]
    meta = checkpoint.load_meta(out / "checkpoint.npz")
    assert meta["run"] == saved
    assert meta["trainer"]["optimizers"]["opt_G"]["lr"] == 1e-4
    assert meta["trainer"]["optimizers"]["opt_D"]["lr"] == 1e-4

    before = snapshot(out)
    r = run(MNIST_GAN, "--resume", "--epochs", 2, "--out", out, env=env)
    assert r.returncode == 0 and "nothing to do" in r.stdout and "epoch 2" in r.stdout, r.stderr
    assert snapshot(out) == before
    r = run(MNIST_GAN, "--resume", "--epochs", 3, "--seed", 1, "--out", out, env=env)
    one_line_error(r, "seed")
    assert snapshot(out) == before


def test_explicit_data_dir_must_exist_and_the_files_used_are_printed(mnist_dir, tmp_path):
    env = data_env(mnist_dir)
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--data-dir", tmp_path / "nonexistent",
            "--out", tmp_path / "a", env=env)
    one_line_error(r, "--data-dir", "nonexistent")
    assert not (tmp_path / "a").exists()
    (tmp_path / "empty").mkdir()
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--data-dir", tmp_path / "empty",
            "--out", tmp_path / "b", env=env)
    one_line_error(r, "holds no train-images-idx3-ubyte.gz")
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--data-dir", mnist_dir, "--out", tmp_path / "c",
            env=env)
    assert r.returncode == 0, r.stderr
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        assert os.path.join(mnist_dir, name) in r.stdout


def test_help_and_printed_configuration_show_real_values(mnist_dir, tmp_path):
    r = run(MNIST_GAN, "--help")
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "(default: None)" not in text and "(default: numpy)" not in text
    assert "(default: $TINYGAN_BACKEND, else numpy)" in text
    assert "(default: runs/<loss>-<arch>[-sn][-cond])" in text and "(default runs/" not in text
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--loss", "wgan-gp", "--out", tmp_path / "run",
            env=data_env(mnist_dir))
    assert r.returncode == 0, r.stderr
    head = r.stdout.split("  optimizer")[0].splitlines()[1:]     # "  <option>  <value>" lines
    printed = dict(line.split(None, 1) for line in head)
    assert printed["lr"] == "0.0005" and printed["n_critic"] == "2"   # the default recipe
    assert printed["ema"] == "0.995"
    assert "None" not in printed.values(), printed


def test_checkpoint_errors_name_the_file_once(mnist_dir, tmp_path):
    out, env = tmp_path / "run", data_env(mnist_dir)
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    (out / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip")
    r = run(MNIST_GAN, *TINY, "--resume", "--epochs", 2, "--out", out, env=env)
    one_line_error(r, "checkpoint")
    assert r.stderr.count(str(out / "checkpoint.npz")) == 1


def test_clear_run_takes_the_sample_folder_with_the_run(tmp_path):
    """--overwrite removes what examples/sample.py drew from the old generator, and only
    that: a user's own file keeps sample/ (and itself) in place."""
    from tinygan.runs import clear_run, run_files

    for name in ("checkpoint.npz", "config.json", "sample/grid.png", "sample/samples.npy",
                 "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    expected = ["checkpoint.npz", "config.json", os.path.join("sample", "grid.png"),
                os.path.join("sample", "samples.npy")]
    assert run_files(tmp_path) == expected
    assert sorted(clear_run(tmp_path)) == expected
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]

    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "mine.png").write_bytes(b"x")
    (tmp_path / "sample" / "grid.png").write_bytes(b"x")
    assert clear_run(tmp_path) == [os.path.join("sample", "grid.png")]
    assert os.listdir(tmp_path / "sample") == ["mine.png"]


def written_before(out, key):
    """Rewrite the run in ``out`` as a version that did not record ``key`` would have
    written it (checkpoint and config.json); returns (checkpoint arrays, trainer config,
    the value dropped)."""
    arrays, meta = checkpoint.load(out / "checkpoint.npz")
    value = meta["run"].pop(key)
    checkpoint.save(out / "checkpoint.npz", arrays, meta)
    with open(out / "config.json", "w") as f:
        json.dump(meta["run"], f)
    return arrays, meta["trainer"]["config"], value


def test_a_run_from_before_the_average_of_g_resumes_without_one(mnist_dir, tmp_path):
    """A checkpoint whose run and trainer configurations name no ``ema`` (written before
    tinygan kept an average of G's weights) resumes as it was trained: without one."""
    out, env = tmp_path / "run", data_env(mnist_dir)
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--ema", 0, "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    arrays, trainer_config, ema = written_before(out, "ema")
    assert not any(k.startswith("trainer.ema_G.") for k in arrays)
    assert ema == 0.0 and "ema" not in trainer_config
    r = run(MNIST_GAN, *TINY, "--resume", "--epochs", 2, "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    assert config(out)["ema"] == 0.0 and "epoch 2/2" in r.stdout


def test_a_wgan_run_from_before_clip_was_recorded_resumes_at_0_01(mnist_dir, tmp_path):
    """A WGAN run whose configuration names no ``clip`` (written before it was recorded,
    when every recipe clipped at the paper's 0.01) resumes with 0.01, whatever the default
    now is; --clip is a fixed run option, and WGAN's alone."""
    out, env = tmp_path / "run", data_env(mnist_dir)
    r = run(MNIST_GAN, *TINY, "--loss", "wgan", "--epochs", 1, "--clip", 0.01, "--out", out,
            env=env)
    assert r.returncode == 0, r.stderr
    _, trainer_config, clip = written_before(out, "clip")
    assert clip == 0.01 and trainer_config["clip"] == 0.01
    r = run(MNIST_GAN, *TINY, "--resume", "--epochs", 2, "--out", out, env=env)
    assert r.returncode == 0, r.stderr
    assert config(out)["clip"] == 0.01 and "epoch 2/2" in r.stdout
    r = run(MNIST_GAN, *TINY, "--resume", "--epochs", 3, "--clip", 0.05, "--out", out, env=env)
    assert r.returncode == 2 and "clip" in r.stderr and "Traceback" not in r.stderr
    r = run(MNIST_GAN, *TINY, "--epochs", 1, "--clip", 0.05, "--out", tmp_path / "ns", env=env)
    assert r.returncode == 2 and "--loss wgan" in r.stderr
    assert not (tmp_path / "ns").exists() or not os.listdir(tmp_path / "ns")
