"""benchmarks/gemm_floor.py: the products it records from a real step are all of them,
and the floor replays each with the recorded shapes, layouts and dtype."""
import json
import os
import subprocess
import sys

import numpy
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import gemm_floor  # noqa: E402

G_SIZES = (100, 256, 512, 1024, 784)
D_SIZES = (784, 1024, 512, 256, 1)


def flop(m, sizes):
    """2 m n_in n_out over an MLP's layers: one product per layer, m rows."""
    return sum(2 * m * a * b for a, b in zip(sizes[:-1], sizes[1:]))


def test_the_mlp_step_records_every_product_once_and_the_floor_replays_them():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "gemm_floor.py"),
                        "mlp", "--json"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    records = json.loads(r.stdout.strip().splitlines()[-1])
    # One NS-GAN step, batch 64, written out layer by layer:
    #   D update: G forward (64 rows), D forward on real + fake (128), D's weight
    #             gradients, D's input gradients except the first layer's (not needed);
    #   G update: G forward, D forward (64), D's input gradients (no weight gradients),
    #             G's weight gradients and its input gradients except the first layer's.
    g_first, d_first = 2 * 64 * 100 * 256, 2 * 128 * 784 * 1024
    expected = (4 * flop(64, G_SIZES) - g_first + 3 * flop(128, D_SIZES) - d_first
                + 2 * flop(64, D_SIZES))
    floor = gemm_floor.GemmFloor(records)
    assert len(records) == 4 * 4 - 1 + 3 * 4 - 1 + 2 * 4 == 34
    assert floor.flop() == expected
    assert {rec["dtype"] for rec in records} == {"float32"}          # no float64 slips
    assert all(rec["site"].startswith("tinygan/nn/linear.py:") for rec in records)
    for rec, (a, b) in zip(records, floor.operands):
        assert (list(a.shape), list(a.strides)) == (rec["a_shape"], rec["a_strides"])
        assert (list(b.shape), list(b.strides)) == (rec["b_shape"], rec["b_strides"])
        assert a.dtype == b.dtype == rec["dtype"]
    layouts = {(a.flags.c_contiguous, b.flags.c_contiguous) for a, b in floor.operands}
    assert (True, False) in layouts and (False, True) in layouts     # transposed views kept
    floor.step()


def test_recording_refuses_a_process_that_imported_tinygan_already():
    import tinygan  # noqa: F401
    with pytest.raises(RuntimeError, match="fresh"):
        gemm_floor.record("mlp", 4)


def test_the_torch_floor_runs_the_same_products_on_the_same_memory():
    torch = pytest.importorskip("torch")
    records = [{"a_shape": [5, 3], "a_strides": [4, 20], "b_shape": [3, 4],
                "b_strides": [16, 4], "dtype": "float32", "site": "x"}]
    floor = gemm_floor.GemmFloor(records)
    floor.torch_step()
    (a, b), (ta, tb) = floor.operands[0], floor._torch_operands[0]
    assert ta.stride() == (1, 5) and ta.data_ptr() == a.__array_interface__["data"][0]
    numpy.testing.assert_allclose(torch.matmul(ta, tb).numpy(), a @ b, rtol=1e-6)
