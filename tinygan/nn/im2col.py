"""im2col and col2im: the two data movements behind every convolution.
Derivation: docs/derivations.md, "Convolution as im2col and a matrix product".

Shapes (CS231n vocabulary): image a (N, C, H, W), kernel KH x KW, stride s, padding p,
H' = (H + 2p - KH) // s + 1, W' = (W + 2p - KW) // s + 1, and the column matrix

    cols[(c, i, j), (h, w, n)] = a_pad[n, c, s h + i, s w + j]     (C KH KW, H' W' N)

im2col builds it with a strided view of the padded image (no Python loop at all) and one
copy; col2im is its adjoint, the sum of each column entry back into the pixel it came
from. A pixel is read by several kernel offsets (i, j), so col2im adds, one offset at a
time and vectorised over (c, n, h, w) (Chainer / deep-learning-from-scratch):

    a_pad[:, i : i + s H' : s, j : j + s W' : s, :] += cols[:, i, j]     for i < KH, j < KW

KH KW slice additions, deterministic, no unbuffered scatter-add. On the GPU col2im is
instead one gather kernel, each pixel summing its own terms in the same order (its CUDA
body is above :func:`col2im_gather`).

Layout: the working buffers are channel-first and batch-LAST, a_pad (C, H + 2p, W + 2p, N)
and cols ordered (c, i, j) x (h, w, n). A strided slice then moves runs of N contiguous
values, not runs of W' (7 for DCGAN's 7x7 maps). Layers see (N, C, H, W) shapes; the
images that convolutions return are transposed views of batch-last memory, which the
elementwise layers after them keep, so the next convolution reads them without a
transposing copy. Linear keeps this layout too when it gets such a map flattened (its
input gradient is returned in its input's memory order). Measured gains: docs/design-notes.md.

``to_channel_rows`` / ``from_channel_rows`` convert between NCHW images and the
(C, H W N) matrices that multiply ``cols`` in a single matrix product.
"""
from __future__ import annotations

import numpy

from .. import kernels, parallel
from ..backend import get_array_module


def conv_output_size(n: int, k: int, stride: int, padding: int) -> int:
    """H' = (H + 2p - KH) // s + 1 (the number of kernel placements along one axis)."""
    return (n + 2 * padding - k) // stride + 1


def _batch_last(a, padding: int):
    """(N, C, H, W) -> zero-padded, C-contiguous (C, H + 2p, W + 2p, N)."""
    xp = get_array_module(a)
    n, c, h, w = a.shape
    if not padding:
        return xp.ascontiguousarray(a.transpose(1, 2, 3, 0))
    out = xp.zeros((c, h + 2 * padding, w + 2 * padding, n), dtype=a.dtype)
    out[:, padding:padding + h, padding:padding + w, :] = a.transpose(1, 2, 3, 0)
    return out


def im2col(a, kh: int, kw: int, stride: int, padding: int):
    """(N, C, H, W) -> cols (C KH KW, H' W' N), cols[(c,i,j),(h,w,n)] = a_pad[n,c,sh+i,sw+j]."""
    xp = get_array_module(a)
    n, c, h, w = a.shape
    ho, wo = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    a_pad = _batch_last(a, padding)
    s_c, s_h, s_w, s_n = a_pad.strides
    # A read-only view of shape (C, KH, KW, H', W', N): entry (c,i,j,h,w,n) sits at
    # a_pad[c, s h + i, s w + j, n]. Nothing is copied until ascontiguousarray.
    view = xp.lib.stride_tricks.as_strided(
        a_pad, shape=(c, kh, kw, ho, wo, n),
        strides=(s_c, s_h, s_w, stride * s_h, stride * s_w, s_n),
    )
    return xp.ascontiguousarray(view).reshape(c * kh * kw, ho * wo * n)


# The GPU's col2im: each output pixel gathers its own terms. Pixel (c, y, x, b) of the
# batch-last image was read, in im2col, at every offset (ki, kj) and output position (h, w)
# with s h + ki - p = y and s w + kj - p = x, so it sums cols[(c, ki, kj), (h, w, b)] over
# the offsets for which h = (y + p - ki) / s and w = (x + p - kj) / s are whole numbers
# inside [0, H') x [0, W'). No two threads write the same pixel (no atomics,
# deterministic), the offsets are summed in the NumPy path's order, and neighbouring
# threads (consecutive b) read neighbouring columns.
@kernels.elementwise(
    "raw T cols", "int32 height, int32 width, int32 batch, int32 kh, int32 kw, int32 stride, "
    "int32 pad, int32 out_h, int32 out_w", "T image", """
    // i runs over the batch-last image (C, H, W, N) in C order
    const int b = i % batch;
    const int x = (i / batch) % width;
    const int y = (i / batch / width) % height;
    const long long c = i / batch / width / height;
    const long long row_size = (long long)out_h * out_w * batch;
    T total = T(0);
    for (int ki = 0; ki < kh; ++ki) {
        const int sy = y + pad - ki;                 // = s h when (ki, h) reads pixel y
        if (sy < 0 || sy % stride != 0 || sy / stride >= out_h) continue;
        for (int kj = 0; kj < kw; ++kj) {
            const int sx = x + pad - kj;
            if (sx < 0 || sx % stride != 0 || sx / stride >= out_w) continue;
            const long long row = (c * kh + ki) * kw + kj;
            total += cols[row * row_size + ((long long)(sy / stride) * out_w
                                            + sx / stride) * batch + b];
        }
    }
    image = total;
""")
def col2im_gather(cols, height, width, batch, kh, kw, stride, pad, out_h, out_w, image=None):
    """cols (C KH KW, H' W' N) -> batch-last image (C, H, W, N): the KH KW slice additions
    into a zeroed padded buffer, whose inner view is returned. ``image`` is the GPU
    kernel's output buffer (it has no elementwise input to size one by); NumPy does not
    need it."""
    xp = get_array_module(cols)
    c = cols.shape[0] // (kh * kw)
    cols = cols.reshape(c, kh, kw, out_h, out_w, batch)
    # Padded batch-last buffer (C, H + 2p, W + 2p, N): cols[:, i, j] is (C, H', W', N).
    a_pad = xp.empty((c, height + 2 * pad, width + 2 * pad, batch), dtype=cols.dtype)

    def add_channels(lo, hi):
        a_pad[lo:hi] = 0
        for i in range(kh):
            for j in range(kw):
                a_pad[lo:hi, i:i + stride * out_h:stride, j:j + stride * out_w:stride, :] \
                    += cols[lo:hi, i, j]

    # Channels are independent: a few at a time, the KH KW additions land in cache
    # rather than sweeping the whole buffer KH KW times, and on several threads at
    # once. Each pixel gets the same sums in the same order: the bits do not change.
    if xp is numpy:
        parallel.for_blocks(c, add_channels, unit=a_pad[0].size)
    else:
        add_channels(0, c)
    return a_pad[:, pad:pad + height, pad:pad + width, :]


def col2im(cols, shape, kh: int, kw: int, stride: int, padding: int):
    """Adjoint of im2col: cols (C KH KW, H' W' N) -> image of ``shape`` (N, C, H, W).

    a[n, c, y, x] = sum of cols[(c,i,j),(h,w,n)] over all (i, j, h, w) with
    s h + i - p = y and s w + j - p = x; one vectorised slice addition per (i, j).
    """
    n, c, h, w = shape
    ho, wo = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    image = (get_array_module(cols).empty((c, h, w, n), dtype=cols.dtype)
             if kernels.use_kernels(cols) else None)
    image = col2im_gather(cols, h, w, n, kh, kw, stride, padding, ho, wo, image=image)
    return image.transpose(3, 0, 1, 2)          # a view: see from_channel_rows


def to_channel_rows(a):
    """(N, C, H, W) -> (C, H W N): one row per channel, columns ordered like im2col's."""
    return _batch_last(a, 0).reshape(a.shape[1], -1)


def from_channel_rows(m, n: int, h: int, w: int):
    """(C, H W N) -> (N, C, H, W); inverse of to_channel_rows.

    A transposed view, not a copy: the memory stays batch-last. Elementwise layers that
    follow allocate their results in the same memory order, so the next convolution's
    to_channel_rows / im2col find (C, H, W, N) already contiguous and skip a transposing
    copy.
    """
    c = m.shape[0]
    return m.reshape(c, h, w, n).transpose(3, 0, 1, 2)
