"""Flat parameter storage: a model's parameters in one contiguous buffer per dtype, its
gradients in another, and each layer's ``params[k]`` / ``grads[k]`` a view of its slice.

The layers do not notice: a view has W's shape, and every layer writes its gradients in
place (``grads[k] += ...``), load_state_dict copies in place, weight clipping clips in
place. What changes is the optimiser's work: it finds the runs of arrays that lie back
to back in one buffer (``runs``) and updates each run as one array, one call (or one
CUDA kernel) per run instead of one per parameter, and can split it over threads.

``flatten`` is called by ``Layer.flatten()``; ``runs`` by the optimisers.
"""
from __future__ import annotations

from ..backend import get_array_module


def address(a) -> int:
    """The address of a's first element (NumPy or CuPy)."""
    pointer = getattr(a.data, "ptr", None)        # CuPy: a MemoryPointer
    return a.__array_interface__["data"][0] if pointer is None else pointer


def _follows(a, b) -> bool:
    """b starts where a ends, in the same C-contiguous buffer of their dtype."""
    return (a.base is not None and a.base is b.base and a.dtype == b.dtype
            and a.base.dtype == a.dtype and a.base.flags.c_contiguous
            and a.flags.c_contiguous and b.flags.c_contiguous
            and address(b) == address(a) + a.nbytes)


def span(arrays):
    """One 1-D array over ``arrays``, which lie back to back (``runs``); a single array
    that is no such view is returned as itself (reshaped to 1-D when that is a view)."""
    first = arrays[0]
    if len(arrays) == 1:     # a lone array, maybe strided: its own elements, never its base's
        return first.reshape(-1) if first.flags.c_contiguous else first
    size = sum(a.size for a in arrays)
    offset = (address(first) - address(first.base)) // first.itemsize
    return first.base.reshape(-1)[offset: offset + size]


def runs(pairs):
    """Split ``[(param, grad), ...]`` into maximal runs ``(i, j)``: params[i:j] lie back
    to back in one buffer, and so do their grads (after ``flatten``: one run per dtype)."""
    bounds = []
    for i, (p, g) in enumerate(pairs):
        if bounds and _follows(pairs[i - 1][0], p) and _follows(pairs[i - 1][1], g):
            bounds[-1][1] = i + 1
        else:
            bounds.append([i, i + 1])
    return [tuple(b) for b in bounds]


def is_flat(pairs) -> bool:
    """True when the params (and grads) of each dtype form one run, the layout ``flatten``
    makes (a pair listed twice, by a layer shared in two places, counts once)."""
    by_dtype = {}
    for p, g in {id(p): (p, g) for p, g in pairs}.values():
        by_dtype.setdefault(p.dtype.str, []).append((p, g))
    return all(len(runs(group)) == 1 for group in by_dtype.values())


def flatten(slots):
    """Move the arrays of ``slots`` (``[(layer, name), ...]``, each once, in order) into
    one new buffer per dtype for the params and one for the grads; values are kept and
    ``layer.params[name]`` / ``layer.grads[name]`` become views of the buffers."""
    by_dtype = {}
    for layer, name in slots:
        by_dtype.setdefault(layer.params[name].dtype.str, []).append((layer, name))
    for group in by_dtype.values():
        first = group[0][0].params[group[0][1]]
        xp = get_array_module(first)
        size = sum(layer.params[name].size for layer, name in group)
        for store in ("params", "grads"):
            buffer, offset = xp.empty(size, dtype=first.dtype), 0
            for layer, name in group:
                old = getattr(layer, store)[name]
                view = buffer[offset: offset + old.size].reshape(old.shape)
                view[...] = old
                getattr(layer, store)[name] = view
                offset += old.size
