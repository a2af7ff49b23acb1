"""tinygan: a small, autograd-free GAN library whose every gradient is derived by hand.

One code path runs on NumPy (CPU) and CuPy (GPU); see :mod:`tinygan.backend`. The public
modules are attributes, imported on first use (``import tinygan as tg; tg.losses``).
"""
import importlib

from .backend import get_array_module, get_backend, set_backend, to_numpy

__version__ = "0.1.0"

MODULES = ("atomic", "backend", "checkpoint", "checks", "classifier", "data", "export",
           "kernels", "lipschitz", "loop", "losses", "metrics", "models", "nn", "optim", "optimal",
           "parallel", "plot", "runs", "train", "trained")


def __getattr__(name):
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(MODULES))


__all__ = ["set_backend", "get_backend", "get_array_module", "to_numpy", "__version__",
           *MODULES]
