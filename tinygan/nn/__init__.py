"""Layers with hand-derived forward/backward (and second-order) passes.

Where each derivation lives (code, then docs/derivations.md section):

* Linear ............ linear.py        "Linear"
* activations ....... activations.py   "Activations"
* Flatten, Reshape .. shape.py         "Reshaping"
* the affine pattern  affine.py        "Affine layers" (shared by Linear and convolutions)
"""
from .base import Layer, Sequential
from .linear import Linear
from .activations import Activation, ReLU, LeakyReLU, Tanh, Sigmoid, Softplus
from .shape import Flatten, Reshape
from . import functional, init

__all__ = [
    "Layer", "Sequential", "Linear", "Activation", "ReLU", "LeakyReLU", "Tanh",
    "Sigmoid", "Softplus", "Flatten", "Reshape", "functional", "init",
]
