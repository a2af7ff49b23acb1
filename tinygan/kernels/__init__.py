"""Fused GPU kernels: each a chain of elementwise equations as one CuPy kernel.

The layers, losses and optimisers call these when their arrays are CuPy arrays and
fusion is on (:func:`use_kernels`); on NumPy they run their own array code, which the
tests check against each op's NumPy reference. How the bodies are checked without a
GPU: :mod:`tinygan.kernels.hostcheck`.

=====================  ==========================================  ======================
op                     computes                                    used by
=====================  ==========================================  ======================
relu, relu_grad        max(a, 0); [a > 0]                          nn.ReLU
leaky_relu(_grad)      a or alpha a; 1 or alpha                    nn.LeakyReLU
sigmoid, softplus      sigma(s); log(1 + e^s), via e^{-|s|}        nn.functional, losses
tanh_grad/_second      1 - y^2; -2 y (1 - y^2)                     nn.Tanh
sigmoid_grad/_second   y (1 - y); y (1 - y)(1 - 2 y)               nn.Sigmoid, nn.Softplus
sgd, sgd_momentum,     the update rules of tinygan.optim,          optim.SGD, RMSProp,
sgd_nesterov, rmsprop, in place on theta and the state             Adam
adam
batchnorm_forward      xhat = (x - mu)/sigma, y = gamma xhat + beta  nn.BatchNorm
batchnorm_backward     (gamma/(m sigma))(m dy - sum dy - xhat sum(dy xhat))  nn.BatchNorm
col2im_gather          col2im as one gather over the image         nn.im2col.col2im
=====================  ==========================================  ======================
"""
from .elementwise import (REGISTRY, ElementwiseOp, fused_enabled, set_fused,
                          use_kernels)
from .activations import (leaky_relu, leaky_relu_grad, relu, relu_grad, sigmoid,
                          sigmoid_grad, sigmoid_second, softplus, tanh_grad, tanh_second)
from .optimizers import adam, rmsprop, sgd, sgd_momentum, sgd_nesterov
from .batchnorm import batchnorm_backward, batchnorm_forward
from .col2im import col2im_gather

__all__ = ["REGISTRY", "ElementwiseOp", "fused_enabled", "set_fused", "use_kernels",
           "relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "sigmoid", "softplus",
           "tanh_grad", "tanh_second", "sigmoid_grad", "sigmoid_second", "sgd",
           "sgd_momentum", "sgd_nesterov", "rmsprop", "adam", "batchnorm_forward",
           "batchnorm_backward", "col2im_gather"]
