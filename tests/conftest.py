"""Shared fixtures: every test that takes ``xp`` runs once per backend.

The CuPy case skips cleanly where CuPy or a CUDA device is missing. With
TINYGAN_BACKEND=cupy the NumPy case still runs (it is the reference), and the CuPy
case must pass too.
"""
import os

import numpy
import pytest

from tinygan import backend

_BACKENDS = ["numpy", "cupy"]


@pytest.fixture(params=_BACKENDS)
def xp(request):
    """The array module of one backend, selected (and seeded) for the test's duration."""
    name = request.param
    if name == "cupy" and not backend.cupy_available():
        pytest.skip("CuPy with a CUDA device is not available")
    previous = backend.backend_name()
    module = backend.set_backend(name, seed=0)
    yield module
    backend.set_backend(previous, seed=0)


@pytest.fixture
def rng(xp):
    """A seeded generator of the test's backend."""
    return xp.random.default_rng(1234)


@pytest.fixture
def mnist_dir():
    """Directory holding the MNIST IDX files, or skip (set TINYGAN_DATA)."""
    root = os.environ.get("TINYGAN_DATA")
    if not root or not os.path.isdir(os.path.join(root, "mnist")):
        pytest.skip("MNIST files not found: set TINYGAN_DATA to a folder containing mnist/")
    return os.path.join(root, "mnist")


def pytest_report_header(config):
    return (f"tinygan backends: numpy {numpy.__version__}; "
            f"cupy {'available' if backend.cupy_available() else 'not available (GPU cases skip)'}")
