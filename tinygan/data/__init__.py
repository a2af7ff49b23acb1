"""Data: MNIST from its original IDX files, device minibatches, 2-D toy distributions.

* :func:`load_mnist` (``mnist.py``): find / download / verify / parse the four gzipped
  IDX files; host float32 images in [-1, 1] and int64 labels.
* :class:`Minibatches`, :func:`one_hot` (``batches.py``): the data set on the device,
  shuffled per epoch on the device, exactly resumable.
* :func:`sample_toy`, :data:`TOY_MODES` (``toy.py``): ring of 8 and grid of 25
  Gaussians (PacGAN protocol), Swiss roll, spiral.
"""
from .batches import Minibatches, one_hot
from .mnist import (
    MNISTChecksumError,
    MNISTFormatError,
    MNISTNotFoundError,
    cache_dir,
    clear_cache,
    find_mnist_file,
    load_mnist,
    read_idx,
    search_dirs,
)
from .toy import TOY_MODES, TOY_NAMES, sample_toy

__all__ = [
    "load_mnist", "read_idx", "find_mnist_file", "search_dirs", "cache_dir", "clear_cache",
    "MNISTFormatError", "MNISTChecksumError", "MNISTNotFoundError",
    "Minibatches", "one_hot", "TOY_MODES", "TOY_NAMES", "sample_toy",
]
