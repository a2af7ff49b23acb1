"""col2im as one gather kernel (docs/derivations.md, "Convolution as im2col and a
matrix product").

The NumPy path adds the KH KW slices of the column matrix into a zeroed padded image,
one slice per kernel offset (16 array operations for DCGAN's 4x4 kernels, plus the
zeroing). On the GPU each output pixel instead gathers its own terms: pixel (c, y, x, b)
of the batch-last image was read, in im2col, at every offset (ki, kj) and output position
(h, w) with

    s h + ki - p = y   and   s w + kj - p = x,

so it sums cols[(c, ki, kj), (h, w, b)] over the offsets for which h = (y + p - ki) / s
and w = (x + p - kj) / s are whole numbers inside [0, H') x [0, W'). No two threads write
the same pixel (no atomics, deterministic), the offsets are summed in the NumPy path's
order, and neighbouring threads (consecutive b) read neighbouring columns.
"""
from __future__ import annotations

import numpy

from .elementwise import ElementwiseOp


def _reference(cols, height, width, batch, kh, kw, stride, pad, out_h, out_w):
    from ..nn.im2col import col2im          # the NumPy path: slice additions

    channels = cols.shape[0] // (kh * kw)
    image = col2im(cols, (batch, channels, height, width), kh, kw, stride, pad)
    return numpy.ascontiguousarray(image.transpose(1, 2, 3, 0))   # (C, H, W, N)


def _example(rng, dtype):
    cases = []
    # DCGAN's 4x4 / stride 2 / pad 1 on odd sizes, a 3x3 stride-1 same convolution, and a
    # stride-3 kernel smaller than the stride (pixels no offset reaches stay 0).
    for c, h, w, nb, kh, kw, s, p in ((3, 7, 5, 4, 4, 4, 2, 1), (2, 6, 6, 3, 3, 3, 1, 1),
                                      (2, 8, 7, 2, 2, 2, 3, 0)):
        oh, ow = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        cols = rng.standard_normal((c * kh * kw, oh * ow * nb)).astype(dtype)
        cases.append({"cols": cols, "height": h, "width": w, "batch": nb,
                      "kh": kh, "kw": kw, "stride": s, "pad": p, "out_h": oh, "out_w": ow,
                      "image": numpy.empty((c, h, w, nb), dtype=dtype)})
    return cases


col2im_gather = ElementwiseOp(
    "col2im_gather", "raw T cols",
    "int32 height, int32 width, int32 batch, int32 kh, int32 kw, int32 stride, int32 pad, "
    "int32 out_h, int32 out_w",
    "T image",
    """
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
    """,
    reference=_reference,
    example=_example,
    doc="image[c, y, x, b] = sum over (ki, kj, h, w) with s h + ki - p = y, s w + kj - p = x "
        "of cols[(c, ki, kj), (h, w, b)]")
