"""Check the fused GPU kernels without a GPU: compile their bodies as C++ on the host.

A ``cupy.ElementwiseKernel`` wraps its body in a loop over the element index ``i``,
binding each non-raw input as ``const T name = name_array[i]`` and each output as
``T& name = name_array[i]``, with ``typedef <dtype> T``. :func:`host_source` writes the
same wrapping as a C++ template, once per op, instantiated for float and double;
:class:`HostLibrary` compiles it with the host's C++ compiler and runs it on NumPy
arrays through ctypes. Comparing that with the op's NumPy reference checks the body's
arithmetic, branches and indexing, in both precisions, on any machine with ``g++``.

:func:`cuda_source` / :func:`compile_cuda` wrap the same bodies as ``__global__``
functions and compile them with ``nvcc`` (no GPU needed to compile), which checks that
they are valid CUDA device code: that every math function they call exists there for
float and double. What neither can check is CuPy's own call (argument order, broadcasting
of outputs), which only a run on a GPU shows (test_kernels.py, CuPy cases).

The ops are ``tinygan.kernels.ElementwiseOp`` objects: a name, declared inputs, scalars
and outputs, and the CUDA body.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess

import numpy

_SCALAR_C = {"int32": ("int", ctypes.c_int32), "int64": ("long long", ctypes.c_int64),
             "float32": ("float", ctypes.c_float), "float64": ("double", ctypes.c_double)}
_T_C = {numpy.dtype(numpy.float32): ("float", ctypes.c_float),
        numpy.dtype(numpy.float64): ("double", ctypes.c_double)}

_PRELUDE = """\
#include <cmath>
using std::exp; using std::fabs; using std::log; using std::log1p; using std::sqrt;
using std::tanh;
"""


def _check_supported(op):
    for p in op.inputs + op.outputs:
        if p.type != "T":
            raise TypeError(f"hostcheck: {op.name}: array parameter {p.name} has type "
                            f"{p.type}; only arrays of the placeholder type T are supported")
    for p in op.scalars:
        if p.type != "T" and p.type not in _SCALAR_C:
            raise TypeError(f"hostcheck: {op.name}: scalar {p.name} has unsupported type "
                            f"{p.type}; expected T or one of {sorted(_SCALAR_C)}")


def _signature(op, t: str) -> str:
    """The C parameter list after ``long long n``, with T spelled ``t``."""
    parts = []
    for p in op.inputs:
        parts.append(f"const {t}* {p.name}" if p.raw else f"const {t}* __restrict__ {p.name}_")
    for p in op.scalars:
        parts.append(f"{t if p.type == 'T' else _SCALAR_C[p.type][0]} {p.name}")
    for p in op.outputs:
        parts.append(f"{t}* __restrict__ {p.name}_")
    return ", ".join(["long long n"] + parts)


def _arg_names(op) -> str:
    names = [p.name if p.raw else p.name + "_" for p in op.inputs]
    names += [p.name for p in op.scalars] + [p.name + "_" for p in op.outputs]
    return ", ".join(["n"] + names)


def _bindings(op) -> str:
    """What CuPy does at element i: inputs by value, outputs by reference."""
    lines = [f"const T {p.name} = {p.name}_[i];" for p in op.inputs if not p.raw]
    lines += [f"T& {p.name} = {p.name}_[i];" for p in op.outputs]
    return "\n        ".join(lines)


def _template(op, head: str, select_i: str) -> str:
    """``op.body`` at element i inside a function template over T: ``head`` declares the
    function, ``select_i`` opens the block in which i is one element (a loop on the
    host, one thread's index on the GPU)."""
    return f"""
template <typename T>
{head}({_signature(op, "T")}) {{
    {select_i} {{
        {_bindings(op)}
        {{
{op.body}
        }}
    }}
}}"""


def host_source(ops) -> str:
    """C++ for every op: ``<name>_float`` and ``<name>_double``, extern "C"."""
    chunks = [_PRELUDE]
    for op in ops:
        _check_supported(op)
        chunks.append(_template(op, f"static void {op.name}_loop",
                                "for (long long i = 0; i < n; ++i)"))
        for t in ("float", "double"):
            chunks.append(f'extern "C" void {op.name}_{t}({_signature(op, t)}) '
                          f'{{ {op.name}_loop<{t}>({_arg_names(op)}); }}')
    return "\n".join(chunks) + "\n"


def cuda_source(ops) -> str:
    """CUDA for every op, instantiated for float and double (for ``nvcc``)."""
    chunks = []
    for op in ops:
        _check_supported(op)
        chunks.append(_template(
            op, f"__global__ void {op.name}_kernel",
            "const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
            "    if (i < n)"))
        for t in ("float", "double"):
            chunks.append(f"template __global__ void {op.name}_kernel<{t}>"
                          f"({_signature(op, t)});")
    return "\n".join(chunks) + "\n"


def find_compiler():
    """Path of a host C++ compiler ($CXX first, then g++, c++, clang++), or None."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _run_compiler(command, what):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or result.stderr.strip():
        raise RuntimeError(f"{what} failed ({' '.join(command)}):\n{result.stderr}")


def _compile(text, source, command, what):
    """Write ``text`` to the file ``source`` and compile it: ``command + [source]``."""
    with open(source, "w") as f:
        f.write(text)
    _run_compiler(command + [source], what)


def compile_cuda(ops, directory, arch="sm_90", nvcc=None):
    """Compile every op's body as CUDA device code to PTX; returns the PTX path.
    Raises RuntimeError with the compiler's messages on any error or warning."""
    nvcc = nvcc or shutil.which("nvcc")
    if nvcc is None:
        raise RuntimeError("hostcheck.compile_cuda: nvcc not found on PATH")
    out = os.path.join(directory, "tinygan_kernels.ptx")
    _compile(cuda_source(ops), os.path.join(directory, "tinygan_kernels.cu"),
             [nvcc, f"-arch={arch}", "-ptx", "-o", out], "nvcc")
    return out


class HostLibrary:
    """The ops' bodies compiled as a shared library for the host CPU."""

    def __init__(self, ops, directory, compiler=None):
        self.ops = {op.name: op for op in ops}
        compiler = compiler or find_compiler()
        if compiler is None:
            raise RuntimeError("hostcheck: no C++ compiler found (set CXX, or install g++)")
        path = os.path.join(directory, "tinygan_kernels_host.so")
        _compile(host_source(ops), os.path.join(directory, "tinygan_kernels_host.cpp"),
                 [compiler, "-std=c++17", "-O2", "-Wall", "-Werror", "-shared", "-fPIC",
                  "-o", path], "host C++ compile")
        self.lib = ctypes.CDLL(path)

    def run(self, name, values, dtype):
        """Run op ``name`` on NumPy ``values`` (inputs, scalars and initial values of the
        outputs that are read), broadcasting like CuPy; returns the outputs, a tuple."""
        op = self.ops[name]
        dtype = numpy.dtype(dtype)
        c_t, c_scalar_t = _T_C[dtype]
        elementwise = [values[p.name] for p in op.inputs if not p.raw]
        elementwise += [values[p.name] for p in op.outputs if p.name in values]
        shape = numpy.broadcast_shapes(*(numpy.shape(a) for a in elementwise))
        size = int(numpy.prod(shape, dtype=numpy.int64))
        keep, args = [], [ctypes.c_longlong(size)]
        for p in op.inputs:
            a = numpy.asarray(values[p.name], dtype=dtype)
            a = numpy.ascontiguousarray(a if p.raw else numpy.broadcast_to(a, shape))
            keep.append(a)
            args.append(a.ctypes.data_as(ctypes.c_void_p))
        for p in op.scalars:
            c_type = c_scalar_t if p.type == "T" else _SCALAR_C[p.type][1]
            args.append(c_type(values[p.name]))
        outs = []
        for p in op.outputs:
            if p.name in values:
                o = numpy.array(numpy.broadcast_to(values[p.name], shape), dtype=dtype,
                                order="C")
            else:
                o = numpy.empty(shape, dtype=dtype)
            outs.append(o)
            args.append(o.ctypes.data_as(ctypes.c_void_p))
        function = getattr(self.lib, f"{name}_{c_t}")
        function.restype = None
        function(*args)
        return tuple(outs)


# -- the exact source CuPy generates -----------------------------------------------------

def cupy_kernel_source(op, dtype):
    """The CUDA source CuPy itself generates for ``op`` on contiguous arrays of
    ``dtype``, headers included, and CuPy's compiler options: what CuPy would hand to
    NVRTC on a GPU machine. Needs CuPy installed but no GPU. It uses CuPy's internal
    code generator (``cupy._core._kernel``), which is not public API: when a CuPy
    release changes it, this raises ImportError or AttributeError."""
    import cupy
    from cupy._core import _carray, _kernel, _scalar, core

    dtype = numpy.dtype(dtype)
    kernel = op.kernel()

    def dtype_of(p):
        return dtype if p.type == "T" else numpy.dtype(p.type)

    _, _, type_map = kernel._decide_params_type(
        tuple(dtype_of(p) for p in op.inputs + op.scalars),
        tuple(dtype_of(p) for p in op.outputs))
    ndarray, indexer, scalar = 1, 2, 3            # cupy._core._kernel._ArgKind
    infos = [_kernel._ArgInfo(ndarray, cupy.ndarray, dtype_of(p), 2 if p.raw else 1, True,
                              True) for p in op.inputs]
    infos += [_kernel._ArgInfo(scalar, _scalar.CScalar, dtype_of(p), 0, True, True)
              for p in op.scalars]
    infos += [_kernel._ArgInfo(ndarray, cupy.ndarray, dtype, 1, True, True)
              for p in op.outputs]
    infos.append(_kernel._ArgInfo(indexer, _carray.Indexer, None, 1, True, True))
    code = _kernel._get_elementwise_kernel_code(tuple(infos), type_map, kernel.params,
                                                kernel.operation, kernel.name,
                                                kernel.preamble)
    headers = "".join(f"#include <{h}>\n" for h in core._cupy_header_list)
    return headers + code, tuple(core.assemble_cupy_compiler_options(()))


def compile_cupy_sources(ops, directory, arch="sm_90", nvcc=None):
    """Compile CuPy's own generated source of every op, float32 and float64, with nvcc
    and CuPy's include options (CuPy uses NVRTC at run time; nvcc reads the same CUDA
    C++). Returns the PTX paths; raises RuntimeError with the messages on any error."""
    from concurrent.futures import ThreadPoolExecutor

    nvcc = nvcc or shutil.which("nvcc")
    if nvcc is None:
        raise RuntimeError("hostcheck.compile_cupy_sources: nvcc not found on PATH")
    commands = []
    for op in ops:
        for dtype in (numpy.float32, numpy.float64):
            source, options = cupy_kernel_source(op, dtype)
            stem = os.path.join(directory, f"cupy_{op.name}_{numpy.dtype(dtype).name}")
            commands.append((source, stem, [nvcc, f"-arch={arch}", "-ptx", *options, "-o",
                                            stem + ".ptx"], f"nvcc on CuPy's {op.name}"))
    # one kernel per file (each has its own typedef T); the compiles run side by side
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda c: _compile(c[0], c[1] + ".cu", c[2], c[3]), commands))
    return [stem + ".ptx" for _, stem, _, _ in commands]
