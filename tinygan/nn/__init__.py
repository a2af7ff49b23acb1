"""Layers with hand-derived forward/backward (and second-order) passes.

Where each derivation lives (code, then docs/derivations.md section):

* Linear ............ linear.py        "Linear"
* activations ....... activations.py   "Activations"
* Flatten, Reshape .. shape.py         "Reshaping"
* the affine pattern  affine.py        "Affine layers" (shared by Linear and convolutions)
* im2col, col2im .... im2col.py        "Convolution as im2col and a matrix product"
* Conv2d ............ conv.py          "Convolution as im2col and a matrix product"
* ConvTranspose2d ... conv.py          "Transposed convolution"
* BatchNorm ......... batchnorm.py     "BatchNorm"
* SpectralNormLinear, SpectralNormConv2d  spectral_norm.py "Spectral normalisation"
* Maxout ............ maxout.py        "Maxout"
* Dropout ........... dropout.py       "Dropout"
* Heads ............. base.py          "Heads" (several heads on one input)
"""
from .base import Heads, Layer, PenaltyIncompatibleError, Sequential
from .linear import Linear
from .activations import Activation, ReLU, LeakyReLU, Tanh, Sigmoid, Softplus
from .shape import Flatten, Reshape
from .conv import Conv2d, ConvTranspose2d
from .batchnorm import BatchNorm, standing_statistics
from .spectral_norm import SpectralNorm, SpectralNormConv2d, SpectralNormLinear
from .maxout import Maxout
from .dropout import Dropout
from . import functional, init

__all__ = [
    "Heads", "Layer", "PenaltyIncompatibleError", "Sequential", "Linear", "Activation", "ReLU",
    "LeakyReLU", "Tanh", "Sigmoid", "Softplus", "Flatten", "Reshape", "Conv2d",
    "ConvTranspose2d", "BatchNorm", "standing_statistics", "SpectralNorm", "SpectralNormLinear", "SpectralNormConv2d", "Maxout", "Dropout",
    "functional", "init",
]
