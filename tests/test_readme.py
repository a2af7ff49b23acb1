"""The README's code must run as written, and .ci/run must call the README's test command."""
import pathlib
import re

import numpy

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _python_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_gan_step_runs(xp, mnist_dir, monkeypatch, capsys):
    monkeypatch.setenv("TINYGAN_DATA", str(pathlib.Path(mnist_dir).parent))
    block = next(b for b in _python_blocks() if "gan_discriminator" in b)
    exec(compile(block, "README.md", "exec"), {})
    d_loss, g_loss = map(float, capsys.readouterr().out.split())
    assert numpy.isfinite(d_loss) and numpy.isfinite(g_loss)
    assert 0.5 < d_loss < 3 and 0.1 < g_loss < 3     # near 2 log 2 and log 2 at the start


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = 'python3 -m pip install -q -e ".[test]" && python3 -m pytest'
    assert command in readme
    assert any(line.strip() == command for line in ci.splitlines())
