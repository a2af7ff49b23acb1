"""im2col and col2im: the two data movements behind every convolution.
Derivation: docs/derivations.md, "Convolution as im2col and a matrix product".

Shapes (CS231n vocabulary): image a (N, C, H, W), kernel KH x KW, stride s, padding p,
H' = (H + 2p - KH) // s + 1, W' = (W + 2p - KW) // s + 1, and the column matrix

    cols[(c, i, j), (n, h, w)] = a_pad[n, c, s h + i, s w + j]     (C KH KW, N H' W')

im2col builds it with a strided view of the padded image (no Python loop at all) and one
copy; col2im is its adjoint, the sum of each column entry back into the pixel it came
from. A pixel is read by several kernel offsets (i, j), so col2im adds, one offset at a
time and vectorised over (c, n, h, w) (Chainer / deep-learning-from-scratch):

    a_pad[:, :, i : i + s H' : s, j : j + s W' : s] += cols[:, i, j]     for i < KH, j < KW

KH KW slice additions, deterministic, identical on NumPy and CuPy, no ``add.at``.
Both helpers keep the channel axis first in their working buffers, (C, ..., N, H', W'),
so that ``cols`` is one C-contiguous matrix and each slice addition reads contiguous rows.

``to_channel_rows`` / ``from_channel_rows`` convert between NCHW images and the
(C, N H W) matrices that multiply ``cols`` in a single matrix product.
"""
from __future__ import annotations

from ..backend import get_array_module


def conv_output_size(n: int, k: int, stride: int, padding: int) -> int:
    """H' = (H + 2p - KH) // s + 1 (the number of kernel placements along one axis)."""
    return (n + 2 * padding - k) // stride + 1


def im2col(a, kh: int, kw: int, stride: int, padding: int):
    """(N, C, H, W) -> cols (C KH KW, N H' W'), cols[(c,i,j),(n,h,w)] = a_pad[n,c,sh+i,sw+j]."""
    xp = get_array_module(a)
    n, c, h, w = a.shape
    ho, wo = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    if padding:
        a = xp.pad(a, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    else:
        a = xp.ascontiguousarray(a)  # as_strided needs the strides of a real buffer
    s_n, s_c, s_h, s_w = a.strides
    # A read-only view of shape (C, KH, KW, N, H', W'): entry (c,i,j,n,h,w) sits at
    # a_pad[n, c, s h + i, s w + j]. Nothing is copied until ascontiguousarray.
    view = xp.lib.stride_tricks.as_strided(
        a, shape=(c, kh, kw, n, ho, wo),
        strides=(s_c, s_h, s_w, s_n, stride * s_h, stride * s_w),
    )
    return xp.ascontiguousarray(view).reshape(c * kh * kw, n * ho * wo)


def col2im(cols, shape, kh: int, kw: int, stride: int, padding: int):
    """Adjoint of im2col: cols (C KH KW, N H' W') -> image of ``shape`` (N, C, H, W).

    a[n, c, y, x] = sum of cols[(c,i,j),(n,h,w)] over all (i, j, h, w) with
    s h + i - p = y and s w + j - p = x; one vectorised slice addition per (i, j).
    """
    xp = get_array_module(cols)
    n, c, h, w = shape
    ho, wo = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    # Channel-first padded buffer (C, N, H + 2p, W + 2p): cols[:, i, j] is (C, N, H', W').
    a_pad = xp.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            a_pad[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += cols[:, i, j]
    inner = a_pad[:, :, padding:padding + h, padding:padding + w]
    return xp.ascontiguousarray(inner.transpose(1, 0, 2, 3))


def to_channel_rows(a):
    """(N, C, H, W) -> (C, N H W): one row per channel, columns ordered like im2col's."""
    n, c, h, w = a.shape
    return get_array_module(a).ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(c, n * h * w)


def from_channel_rows(m, n: int, h: int, w: int):
    """(C, N H W) -> contiguous (N, C, H, W); inverse of to_channel_rows."""
    c = m.shape[0]
    xp = get_array_module(m)
    return xp.ascontiguousarray(m.reshape(c, n, h, w).transpose(1, 0, 2, 3))
