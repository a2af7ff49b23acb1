"""Training-step speed of tinygan against the same GANs in PyTorch, side by side.

    python benchmarks/speed.py                                   # everything, NumPy (+CuPy)
    python benchmarks/speed.py --quick --out speed.md            # a short run, markdown table
    python benchmarks/speed.py --models mlp,dcgan --repeats 50 --threads 1
    python benchmarks/speed.py --backend cupy --repeats 200      # GPU: CuPy vs torch CUDA
    TINYGAN_FUSED=0 python benchmarks/speed.py --backend cupy    # GPU, without fused kernels

One training step is one ``trainer.step(x_real)`` of ``tinygan.train.make_trainer`` with
k = n_critic = 1, i.e. one D / critic update and one G update, batch m = 64 (--batch):

    mlp       non-saturating GAN, G 100-256-512-1024-784 (tanh), D 784-1024-512-256-1,
              LeakyReLU(0.2), Adam 2e-4 (0.5, 0.999); D sees real and fake concatenated
    wgan-gp   the same MLPs, critic loss + gradient penalty (lam 10, double backprop),
              Adam 1e-4 (0, 0.9)
    dcgan     models.dcgan_generator / dcgan_discriminator (BatchNorm: real and fake
              batches pass D separately), Adam 2e-4 (0.5, 0.999)

The PyTorch twins (benchmarks/torch_reference.py) do the same work, step for step. Runs
are interleaved (tinygan, PyTorch, tinygan, PyTorch, ...) after a warm-up, so drifting
load on a shared machine hits both alike: each turn is a short pause, one untimed step
and --block timed steps (see time_interleaved: idle BLAS/OpenMP threads of one framework
keep spinning into the other's step otherwise). The tables give medians and the ratio
tinygan / PyTorch (below 1: tinygan is faster). Both use the same number of threads:
NumPy's BLAS through threadpoolctl, tinygan's elementwise work (the optimiser update)
through tinygan.parallel.set_threads, PyTorch through torch.set_num_threads (--threads,
default: all cores). OpenBLAS's idle workers sleep at once (OPENBLAS_THREAD_TIMEOUT=4
unless set), as in the example scripts with more than one thread.

Also: step time against the batch size and against a width multiplier of the MLP
hidden layers (MLP GAN), and peak memory, measured in a fresh subprocess per entry:
CPU: the growth of the peak resident set (VmHWM, reset through /proc/self/clear_refs)
over the resident set before the models are built, and for NumPy tracemalloc's peak of
traced bytes (NumPy reports its buffers to it); GPU: CuPy's memory pool (bytes held,
which bounds the peak in use) and torch.cuda.max_memory_allocated.

Data: a fixed random batch in [-1, 1] (the step's cost does not depend on the values).
PyTorch is optional (``pip install torch``); without it only tinygan's times are shown.

GEMM floor (NumPy backend, main table): the time of the step's own matrix products alone,
with the same BLAS and thread count, timed in the same interleaved turns; ``tinygan /
floor`` is then the cost of everything else in the step (elementwise passes, im2col,
copies, the optimiser) on top of the products. The products are recorded from a real
tinygan step, not listed by hand: benchmarks/gemm_floor.py explains how (--no-floor skips
it; ``python benchmarks/gemm_floor.py dcgan`` prints the list).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

# As tinygan's example scripts do with more than one thread (examples/_blas.py): OpenBLAS's
# idle workers sleep at once instead of busy-waiting for ~0.1 s after each product on the
# cores tinygan's elementwise threads need. Read when NumPy loads OpenBLAS, hence before
# the import; with one BLAS thread there are no workers and it changes nothing.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # run from a checkout without installing
sys.path.insert(0, HERE)                    # torch_reference

import gemm_floor  # noqa: E402
from tinygan import backend, kernels, models, parallel, train  # noqa: E402

MODELS = ("mlp", "wgan-gp", "dcgan")
MODEL_TITLES = {"mlp": "MLP GAN", "wgan-gp": "WGAN-GP (MLP)", "dcgan": "DCGAN"}
TORCH_DEVICE = {"numpy": "cpu", "cupy": "cuda"}
NOISE_DIM = 100


# -- the two frameworks ----------------------------------------------------------------

def tinygan_trainer(model, width=1.0, seed=0):
    """The trainer whose ``step`` is measured, built on the current backend."""
    rng = backend.make_rng(seed)
    if model in ("mlp", "wgan-gp"):
        g_hidden = tuple(int(round(h * width)) for h in (256, 512, 1024))
        d_hidden = tuple(int(round(h * width)) for h in (1024, 512, 256))
        G = models.mlp_generator(NOISE_DIM, g_hidden, 784, rng=rng)
        D = models.mlp_discriminator(784, d_hidden, rng=rng)
        if model == "mlp":
            return train.make_trainer("nsgan", G, D, noise_dim=NOISE_DIM, seed=seed, k=1)
        return train.make_trainer("wgan-gp", G, D, noise_dim=NOISE_DIM, seed=seed, n_critic=1)
    if model == "dcgan":
        G = models.dcgan_generator(NOISE_DIM, rng=rng)
        D = models.dcgan_discriminator(rng=rng)
        return train.make_trainer("nsgan", G, D, noise_dim=NOISE_DIM, seed=seed, k=1)
    raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")


def batch_shape(model, m):
    return (m, 1, 28, 28) if model == "dcgan" else (m, 784)


class Runner:
    """A named step function and the synchronisation that makes its time honest."""

    def __init__(self, name, step, sync):
        self.name, self.step, self.sync = name, step, sync

    def __call__(self):
        self.step()
        self.sync()


def tinygan_runner(backend_name, model, m, width=1.0):
    xp = backend.set_backend(backend_name, seed=0)
    trainer = tinygan_trainer(model, width)
    x_real = backend.make_rng(1).random(batch_shape(model, m), dtype=xp.float32) * 2 - 1
    if backend_name == "cupy":
        def sync():
            xp.cuda.get_current_stream().synchronize()
    else:
        def sync():
            pass
    return Runner(f"tinygan {backend_name}", lambda: trainer.step(x_real), sync)


def torch_runner(device, model, m, width=1.0, adam="default"):
    import torch
    import torch_reference

    torch.manual_seed(0)
    gan = torch_reference.build(model, device, width, adam)
    x_real = torch.rand(batch_shape(model, m), device=device) * 2 - 1
    if device == "cuda":
        sync = torch.cuda.synchronize
    else:
        def sync():
            pass
    return Runner(f"torch {device}", lambda: gan.step(x_real), sync)


def torch_available(device):
    try:
        import torch
    except ImportError:
        return False
    return device == "cpu" or torch.cuda.is_available()


# -- timing ------------------------------------------------------------------------------

def time_interleaved(runners, repeats, warmup, pause=0.2, block=3):
    """Seconds per step of each runner (``repeats`` timed steps each): after ``warmup``
    steps each, the runners take turns, A B A B ..., each turn ``block`` timed steps.

    Why turns look like this: OpenBLAS's and OpenMP's idle worker threads busy-wait for
    a while (OpenBLAS: about 0.1 s) before they sleep, so right after one framework's step
    its threads still hold the cores the other framework needs (on 2 cores this doubled
    PyTorch's step time). Each turn therefore starts with ``pause`` seconds of sleep and
    one untimed step, and then times ``block`` consecutive steps: the steady state of a
    training loop, where a framework follows only itself.
    """
    for run in runners:
        for _ in range(warmup):
            run()
    times = {run.name: [] for run in runners}
    while len(times[runners[0].name]) < repeats:
        for run in runners:
            time.sleep(pause)
            run()                                     # settle: not timed
            for _ in range(min(block, repeats - len(times[run.name]))):
                t0 = time.perf_counter()
                run()
                times[run.name].append(time.perf_counter() - t0)
    return times


def floor_runners(model, m, width=1.0, with_torch=False):
    """The step's own matrix products alone (benchmarks/gemm_floor.py): {"floor": NumPy's
    BLAS, and with ``with_torch`` "torch_floor": the same products by torch.matmul}."""
    floor = gemm_floor.GemmFloor(gemm_floor.record_in_subprocess(model, m, width))
    runners = {"floor": Runner("GEMM floor", floor.step, lambda: None)}
    if with_torch:
        runners["torch_floor"] = Runner("GEMM floor, torch.matmul", floor.torch_step,
                                        lambda: None)
    return runners


RESULT_KEYS = ("tinygan", "torch", "floor", "torch_floor")


def compare(backend_name, model, m, width, args, floor=False):
    """{"tinygan", "torch", "floor", "torch_floor": seconds list or None} for one
    configuration; the GEMM floors only with ``floor`` on NumPy."""
    runners = {"tinygan": tinygan_runner(backend_name, model, m, width)}
    device = TORCH_DEVICE[backend_name]
    have_torch = args.torch and torch_available(device)
    if have_torch:
        runners["torch"] = torch_runner(device, model, m, width, args.torch_adam)
    if floor and args.floor and backend_name == "numpy":
        runners.update(floor_runners(model, m, width, with_torch=have_torch))
    times = time_interleaved(list(runners.values()), args.repeats_for(m, width), args.warmup,
                             args.pause, args.block)
    return {key: times[runners[key].name] if key in runners else None for key in RESULT_KEYS}


def median_ms(times):
    return None if times is None else 1e3 * statistics.median(times)


def quartiles_ms(times):
    if times is None or len(times) < 4:
        return None
    q = statistics.quantiles(times, n=4)
    return 1e3 * q[0], 1e3 * q[2]


# -- threads -----------------------------------------------------------------------------

def set_threads(n):
    """Limit NumPy's BLAS, tinygan's elementwise work and PyTorch to n threads; returns a
    description."""
    parallel.set_threads(n)
    notes = [f"tinygan elementwise threads: {parallel.get_threads()}"]
    try:
        import threadpoolctl
        threadpoolctl.threadpool_limits(limits=n, user_api="blas")
        # the kernels OpenBLAS chose (or was told to use by OPENBLAS_CORETYPE) set the
        # GEMM speed: AVX2 "Haswell" kernels on an AVX-512 CPU halve it
        blas = [f"{i['internal_api']} {i['num_threads']}"
                + (f" ({i['architecture']} kernels)" if i.get("architecture") else "")
                for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        notes.append("BLAS threads: " + ", ".join(blas) + "".join(
            f", {var}={os.environ[var]}" for var in ("OPENBLAS_CORETYPE",
                                                     "OPENBLAS_THREAD_TIMEOUT")
            if var in os.environ))
    except ImportError:
        notes.append("BLAS threads: not set (pip install threadpoolctl); "
                     f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    try:
        import torch
        torch.set_num_threads(n)
        notes.append(f"torch threads: {torch.get_num_threads()}")
    except ImportError:
        pass
    return "; ".join(notes)


# -- memory (one fresh process per entry) ------------------------------------------------

def _proc_status(key):
    with open("/proc/self/status") as f:
        match = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) * 1024


def _reset_peak_rss():
    """Reset VmHWM to the current VmRSS (Linux >= 4.0); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def probe_memory(framework, model, backend_name, m, steps=3):
    """Peak memory of building the models and running ``steps`` training steps (bytes)."""
    result = {}
    if backend_name == "numpy":
        import tracemalloc
        exact = _reset_peak_rss()
        base = _proc_status("VmRSS") if exact else None
        if framework == "tinygan":
            tracemalloc.start()
        run = (tinygan_runner(backend_name, model, m) if framework == "tinygan"
               else torch_runner("cpu", model, m))
        for _ in range(steps):
            run()
        if framework == "tinygan":
            result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if exact:
            result["rss_peak_growth"] = _proc_status("VmHWM") - base
    elif framework == "tinygan":
        import cupy
        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks()
        base = pool.total_bytes()
        run = tinygan_runner("cupy", model, m)
        for _ in range(steps):
            run()
        result["gpu_peak"] = pool.total_bytes() - base
    else:
        import torch
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run = torch_runner("cuda", model, m)
        for _ in range(steps):
            run()
        result["gpu_peak"] = torch.cuda.max_memory_allocated() - base
    return result


def measure_memory(framework, model, backend_name, m, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--probe-memory",
           f"{framework}:{model}:{backend_name}", "--batch", str(m), "--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory probe {framework}:{model}:{backend_name} failed:\n"
                           f"{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- tables ------------------------------------------------------------------------------

def fmt_ms(v):
    return "—" if v is None else f"{v:.2f}"


def fmt_ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}x"


def fmt_mib(v):
    return "—" if v is None else f"{v / 2 ** 20:.1f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def step_table(results, backend_name):
    device = TORCH_DEVICE[backend_name]
    header = ["model", f"tinygan {backend_name} (ms)", "IQR", f"PyTorch {device} (ms)", "IQR",
              "tinygan / PyTorch", "GEMM floor (ms)", "tinygan / floor",
              "GEMM floor, torch.matmul (ms)", "PyTorch / its floor"]
    rows = []
    for model, r in results.items():
        a, b, f = median_ms(r["tinygan"]), median_ms(r["torch"]), median_ms(r["floor"])
        tf = median_ms(r["torch_floor"])
        qa, qb = quartiles_ms(r["tinygan"]), quartiles_ms(r["torch"])
        rows.append([MODEL_TITLES[model], fmt_ms(a),
                     "—" if qa is None else f"{qa[0]:.2f}–{qa[1]:.2f}", fmt_ms(b),
                     "—" if qb is None else f"{qb[0]:.2f}–{qb[1]:.2f}", fmt_ratio(a, b),
                     fmt_ms(f), fmt_ratio(a, f), fmt_ms(tf), fmt_ratio(b, tf)])
    return table(header, rows)


def sweep_table(label, results, backend_name):
    device = TORCH_DEVICE[backend_name]
    header = [label, f"tinygan {backend_name} (ms)", f"PyTorch {device} (ms)",
              "tinygan / PyTorch", "tinygan samples/s"]
    rows = []
    for key, (m, r) in results.items():
        a, b = median_ms(r["tinygan"]), median_ms(r["torch"])
        rows.append([key, fmt_ms(a), fmt_ms(b), fmt_ratio(a, b), f"{1e3 * m / a:,.0f}"])
    return table(header, rows)


def memory_table(results, backend_name):
    if backend_name == "numpy":
        header = ["model", "tinygan peak RSS growth (MiB)", "tinygan tracemalloc peak (MiB)",
                  "PyTorch cpu peak RSS growth (MiB)"]
        rows = [[MODEL_TITLES[model], fmt_mib(r["tinygan"].get("rss_peak_growth")),
                 fmt_mib(r["tinygan"].get("tracemalloc_peak")),
                 fmt_mib(r["torch"].get("rss_peak_growth") if r["torch"] else None)]
                for model, r in results.items()]
    else:
        header = ["model", "tinygan CuPy pool (MiB)", "PyTorch cuda max allocated (MiB)"]
        rows = [[MODEL_TITLES[model], fmt_mib(r["tinygan"].get("gpu_peak")),
                 fmt_mib(r["torch"].get("gpu_peak") if r["torch"] else None)]
                for model, r in results.items()]
    return table(header, rows)


def load_average():
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def environment(threads_note):
    parts = [f"Python {platform.python_version()}", f"NumPy {numpy.__version__}"]
    try:
        import torch
        parts.append(f"PyTorch {torch.__version__}")
    except ImportError:
        parts.append("PyTorch not installed")
    if backend.cupy_available():
        import cupy
        gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        fused = "on" if kernels.fused_enabled() else "off (TINYGAN_FUSED=0)"
        parts.append(f"CuPy {cupy.__version__} on {gpu}, fused kernels {fused}")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(parts) + f"; {threads_note}"


# -- command line ------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS),
                   help=f"comma-separated subset of {','.join(MODELS)}")
    p.add_argument("--backend", default="auto", choices=("auto", "numpy", "cupy", "all"),
                   help="auto: numpy, and cupy too when a GPU is usable")
    p.add_argument("--repeats", type=int, default=30, help="timed steps per framework")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batch-sizes", default="16,32,64,128,256,512,1024",
                   help="MLP GAN batch sweep ('' to skip)")
    p.add_argument("--widths", default="0.5,1,2", help="MLP GAN width sweep ('' to skip)")
    p.add_argument("--pause", type=float, default=0.2,
                   help="seconds of sleep at the start of each turn, so the other "
                        "framework's idle BLAS/OpenMP threads stop spinning (default 0.2)")
    p.add_argument("--block", type=int, default=3,
                   help="timed steps per turn, after one untimed step (default 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="BLAS threads = torch threads (default: all cores)")
    p.add_argument("--torch-adam", choices=("default", "foreach", "fused"), default="default",
                   help="torch.optim.Adam implementation (default: PyTorch's default, on CPU "
                        "a loop over the parameters)")
    p.add_argument("--no-torch", dest="torch", action="store_false",
                   help="time tinygan alone")
    p.add_argument("--no-memory", dest="memory", action="store_false")
    p.add_argument("--no-floor", dest="floor", action="store_false",
                   help="skip the GEMM floor (the step's matrix products alone)")
    p.add_argument("--quick", action="store_true",
                   help="10 repeats, 1 warm-up, batch sizes 16,64,256,1024")
    p.add_argument("--out", help="write the markdown tables to this file")
    p.add_argument("--probe-memory", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = min(args.repeats, 10), min(args.warmup, 1)
        if args.batch_sizes == p.get_default("batch_sizes"):
            args.batch_sizes = "16,64,256,1024"
    args.models = [s for s in args.models.split(",") if s]
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        p.error(f"unknown model(s) {unknown}; expected a subset of {MODELS}")
    try:
        args.batch_sizes = [int(s) for s in args.batch_sizes.split(",") if s]
        args.widths = [float(s) for s in args.widths.split(",") if s]
    except ValueError:
        p.error("--batch-sizes takes integers and --widths numbers, comma-separated")
    if (args.repeats < 1 or args.warmup < 0 or args.batch < 1 or args.threads < 1
            or args.block < 1 or args.pause < 0
            or any(b < 1 for b in args.batch_sizes) or any(w <= 0 for w in args.widths)):
        p.error("--repeats, --batch, --threads, --block and batch sizes must be >= 1, "
                "--warmup and --pause >= 0, widths > 0")

    def repeats_for(m, width):
        # large configurations take long: fewer repeats, at least 5
        scale = max(1.0, (m / args.batch) * width ** 2)
        return max(5, int(args.repeats / scale)) if scale > 1 else args.repeats
    args.repeats_for = repeats_for
    return args


def backends_to_run(choice):
    if choice == "numpy":
        return ["numpy"]
    if choice == "cupy":
        if not backend.cupy_available():
            sys.exit("--backend cupy: CuPy with a CUDA device is not available")
        return ["cupy"]
    return ["numpy"] + (["cupy"] if backend.cupy_available() else [])


def main(argv=None):
    args = parse_args(argv)
    threads_note = set_threads(args.threads)
    if args.probe_memory:
        framework, model, backend_name = args.probe_memory.split(":")
        print(json.dumps(probe_memory(framework, model, backend_name, args.batch)))
        return

    command = "python benchmarks/speed.py " + " ".join(shlex.quote(a) for a in
                                                        (argv if argv is not None else sys.argv[1:]))
    out = [f"Command: `{command}`", "",
           f"Machine: {environment(threads_note)}", "",
           f"Load average (1, 5, 15 min) at start: {load_average()}", ""]

    def emit(text=""):
        print(text, flush=True)
        out.append(text)

    for line in out:
        print(line)
    for backend_name in backends_to_run(args.backend):
        device = TORCH_DEVICE[backend_name]
        have_torch = args.torch and torch_available(device)
        emit(f"## tinygan {backend_name} vs PyTorch {device if have_torch else '(not run)'}")
        emit()
        emit(f"One training step (one D / critic update + one G update), batch {args.batch}, "
             f"float32: median of {args.repeats} steps per framework after {args.warmup} "
             f"warm-up steps, timed in alternating turns of {args.block} consecutive steps "
             f"(each turn after a {args.pause:g} s pause and one untimed step); IQR: "
             f"interquartile range. PyTorch's optimiser: torch.optim.Adam ({args.torch_adam} "
             "implementation). GEMM floor: the matrix products recorded from one tinygan "
             "step, alone, same BLAS and threads, timed in the same turns "
             "(benchmarks/gemm_floor.py); torch.matmul: the same products, same operands, "
             "through PyTorch's BLAS.")
        emit()
        results = {model: compare(backend_name, model, args.batch, 1.0, args, floor=True)
                   for model in args.models}
        emit(step_table(results, backend_name))
        emit()
        if "mlp" in args.models and args.batch_sizes:
            sweep = {str(m): (m, compare(backend_name, "mlp", m, 1.0, args))
                     for m in args.batch_sizes}
            emit("MLP GAN step time against the batch size (fewer repeats for large batches):")
            emit()
            emit(sweep_table("batch", sweep, backend_name))
            emit()
        if "mlp" in args.models and args.widths:
            sweep = {f"{w:g}x": (args.batch, compare(backend_name, "mlp", args.batch, w, args))
                     for w in args.widths}
            emit(f"MLP GAN step time against a width multiplier of every hidden layer "
                 f"(1x: G 256-512-1024, D 1024-512-256), batch {args.batch}:")
            emit()
            emit(sweep_table("width", sweep, backend_name))
            emit()
        if args.memory:
            mem = {}
            for model in args.models:
                mem[model] = {
                    "tinygan": measure_memory("tinygan", model, backend_name, args.batch,
                                              args.threads),
                    "torch": (measure_memory("torch", model, backend_name, args.batch,
                                             args.threads) if have_torch else None)}
            emit(f"Peak memory of building the models and 3 training steps, batch "
                 f"{args.batch}, each in a fresh process:")
            emit()
            emit(memory_table(mem, backend_name))
            emit()
    emit(f"Load average (1, 5, 15 min) at the end: {load_average()}")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(out) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
