"""The GEMM floor of a training step: the time of the step's own matrix products alone.

A training step is matrix products (BLAS) plus everything around them: elementwise
passes, im2col/col2im, copies, reductions, the optimiser. The floor is what would be
left if everything but the products took no time, measured with the same BLAS and the
same thread count as the step, so ``step / floor`` shows how much the rest costs.

The list of products is not written by hand; it is recorded from a real step:

1. ``record(model, m, width)`` runs in a fresh process. Before tinygan is imported it
   installs an import hook that compiles every ``tinygan.*`` module with each ``a @ b``
   rewritten into a call that computes ``a @ b`` (the same operator, so the same result)
   and, while recording, notes the operands' shapes, strides and dtype and the line
   that asked for the product. Every matrix product in tinygan is written with ``@``
   (no ``dot``/``matmul``/``einsum`` calls), so this is all of them.
2. One untimed warm-up step, then one recorded step of the same trainer that
   benchmarks/speed.py times (``speed.tinygan_trainer``).
3. ``GemmFloor(records)`` allocates operands of exactly those shapes, strides (C order,
   transposed views, whatever the step had) and dtypes, filled with N(0, 1) values, and
   its ``step`` runs ``numpy.matmul`` on each in the recorded order, allocating each
   result as ``a @ b`` does. speed.py times it like the two frameworks, in the same
   interleaved turns; ``torch_step`` runs the same products through ``torch.matmul``
   (PyTorch's BLAS), so a table can show how much of a gap is the BLAS itself.

So the floor is the products one step performs, nothing else: no im2col, no elementwise
work, no optimiser. Only the NumPy backend is supported (the floor is about the CPU's
BLAS). Run ``python benchmarks/gemm_floor.py MODEL`` to print the recorded products.
"""
from __future__ import annotations

import argparse
import ast
import importlib.abc
import importlib.machinery
import json
import operator
import os
import subprocess
import sys
from collections import Counter

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDER = "_gemm_floor_matmul"     # the name each rewritten ``a @ b`` calls
PACKAGE = "tinygan"


# -- recording (in a fresh process) ------------------------------------------------------

class _Recorder:
    """Computes a @ b and, while ``on``, notes what the product was."""

    def __init__(self):
        self.on, self.records = False, []

    def __call__(self, a, b):
        out = operator.matmul(a, b)
        if self.on and isinstance(a, numpy.ndarray) and isinstance(b, numpy.ndarray):
            caller = sys._getframe(1)
            self.records.append({
                "a_shape": a.shape, "a_strides": a.strides, "b_shape": b.shape,
                "b_strides": b.strides, "dtype": str(out.dtype),
                "site": f"{os.path.relpath(caller.f_code.co_filename, os.path.dirname(HERE))}"
                        f":{caller.f_lineno}"})
        return out


class _MatmulToCall(ast.NodeTransformer):
    """``a @ b`` -> ``_gemm_floor_matmul(a, b)``."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, ast.MatMult):
            return node
        return ast.copy_location(
            ast.Call(ast.Name(RECORDER, ast.Load()), [node.left, node.right], []), node)

    def visit_AugAssign(self, node):
        if isinstance(node.op, ast.MatMult):
            raise NotImplementedError(f"gemm_floor: line {node.lineno}: 'a @= b' is not "
                                      "recorded; write 'a = a @ b'")
        return self.generic_visit(node)


class _RecordingLoader(importlib.machinery.SourceFileLoader):
    recorder = None

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        tree = _MatmulToCall().visit(ast.parse(self.get_data(path), path))
        return compile(ast.fix_missing_locations(tree), path, "exec", dont_inherit=True)

    def exec_module(self, module):
        module.__dict__[RECORDER] = self.recorder
        super().exec_module(module)


class _RecordingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _RecordingLoader(spec.loader.name, spec.loader.path)
        return spec


def record(model, m, width=1.0):
    """The products of one training step (after one warm-up step), as a list of dicts.
    Must run before tinygan is imported in this process."""
    if any(name == PACKAGE or name.startswith(PACKAGE + ".") for name in sys.modules):
        raise RuntimeError("gemm_floor.record: tinygan is already imported in this process; "
                           "record in a fresh one (record_in_subprocess)")
    recorder = _RecordingLoader.recorder = _Recorder()
    sys.meta_path.insert(0, _RecordingFinder())
    sys.path.insert(0, HERE)
    import speed   # imports tinygan through the hook

    speed.tinygan_runner("numpy", model, m, width)   # sets the backend; its trainer unused
    runner = speed.tinygan_runner("numpy", model, m, width)
    runner()                                         # warm-up, not recorded
    recorder.on = True
    runner()
    recorder.on = False
    return recorder.records


def record_in_subprocess(model, m, width=1.0):
    cmd = [sys.executable, os.path.abspath(__file__), model, "--batch", str(m),
           "--width", str(width), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"gemm_floor: recording {model} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- replaying (timed by benchmarks/speed.py) --------------------------------------------

def _operand(shape, strides, dtype, rng):
    """An array of this shape, strides and dtype over a fresh buffer of N(0, 1) values."""
    if any(s < 0 for s in strides):
        raise ValueError(f"gemm_floor: negative strides {strides} are not supported")
    itemsize = numpy.dtype(dtype).itemsize
    span = sum((n - 1) * s for n, s in zip(shape, strides)) // itemsize + 1
    buffer = rng.standard_normal(span).astype(dtype)
    return numpy.lib.stride_tricks.as_strided(buffer, shape=shape, strides=strides)


class GemmFloor:
    """The recorded products with operands of their shapes, strides and dtypes."""

    def __init__(self, records, seed=0):
        rng = numpy.random.default_rng(seed)
        self.records = records
        self.operands = [(_operand(r["a_shape"], r["a_strides"], r["dtype"], rng),
                          _operand(r["b_shape"], r["b_strides"], r["dtype"], rng))
                         for r in records]

    def step(self):
        for a, b in self.operands:
            numpy.matmul(a, b)

    def torch_step(self):
        """The same products by ``torch.matmul``, on the same memory (``torch.from_numpy``
        keeps the strides): PyTorch's own BLAS (MKL on x86) on exactly tinygan's
        products, which separates the two libraries' BLAS from the rest of a step."""
        import torch
        if not hasattr(self, "_torch_operands"):
            self._torch_operands = [(torch.from_numpy(a), torch.from_numpy(b))
                                    for a, b in self.operands]
        for a, b in self._torch_operands:
            torch.matmul(a, b)

    def flop(self):
        """2 M N K summed over the products (matrix-vector products count M or N = 1)."""
        total = 0
        for r in self.records:
            a, b = r["a_shape"], r["b_shape"]
            total += 2 * (a[0] if len(a) == 2 else 1) * a[-1] * (b[1] if len(b) == 2 else 1)
        return total


def describe(records):
    """One line per distinct (site, shapes, layouts): how often a step asks for it."""
    def layout(shape, strides, dtype):
        item = numpy.dtype(dtype).itemsize
        if len(shape) == 2 and strides == (shape[1] * item, item):
            return "C"
        if len(shape) == 2 and strides == (item, shape[0] * item):
            return "F"
        return f"strides {tuple(strides)}"
    counts = Counter((r["site"], tuple(r["a_shape"]), layout(r["a_shape"], r["a_strides"],
                      r["dtype"]), tuple(r["b_shape"]), layout(r["b_shape"], r["b_strides"],
                      r["dtype"]), r["dtype"]) for r in records)
    return [f"{n} x {site}: {a} ({la}) @ {b} ({lb}) {dtype}"
            for (site, a, la, b, lb, dtype), n in counts.items()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="mlp, wgan-gp or dcgan (as benchmarks/speed.py)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--json", action="store_true", help="print the records as one JSON line")
    args = p.parse_args(argv)
    records = record(args.model, args.batch, args.width)
    if args.json:
        print(json.dumps(records))
        return
    for line in describe(records):
        print(line)
    print(f"{len(records)} products, {GemmFloor(records).flop() / 1e9:.3f} GFLOP per step")


if __name__ == "__main__":
    main()
