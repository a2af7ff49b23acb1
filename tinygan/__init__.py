"""tinygan: a small, autograd-free GAN library whose every gradient is derived by hand.

One code path runs on NumPy (CPU) and CuPy (GPU); see :mod:`tinygan.backend`.
"""
from . import backend, nn, gradcheck
from .backend import set_backend, get_backend, get_array_module, to_numpy

__version__ = "0.1.0"

__all__ = ["backend", "nn", "gradcheck", "set_backend", "get_backend", "get_array_module",
           "to_numpy", "__version__"]
