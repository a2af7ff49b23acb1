"""Labels for conditional GANs (Mirza & Osindero 2014): G(z, y) = G([z, y]) and
D(x, y) = D([x, y]) with one-hot y (``models.join_label``). Unconditional trainers pass
``y = None`` through all of these unchanged."""
from __future__ import annotations

from ..backend import asarray, get_array_module
from ..data.batches import one_hot
from ..models import join_label, label_mask

FAKE_LABELS = ("real", "uniform")


class ConditionalLabels:
    """The label steps of a :class:`tinygan.train.Trainer`: ``conditional``,
    ``n_classes`` (K), ``fake_labels``, ``dtype`` and ``rng`` are the trainer's."""

    def _labels(self, x_real, y_real):
        """One-hot labels (m, K) for a conditional trainer, None otherwise."""
        if not self.conditional:
            if y_real is not None:
                raise ValueError(f"{type(self).__name__}: y_real given but the trainer is not "
                                 "conditional (make_trainer(..., conditional=True))")
            return None
        if y_real is None:
            raise ValueError(f"{type(self).__name__}: a conditional trainer needs y_real "
                             "(int labels (m,) or one-hot (m, K))")
        return self._one_hot(y_real, x_real.shape[0])

    def _one_hot(self, y, m):
        y = asarray(y)              # a no-op for device labels; host labels (sample()) move
        if y.ndim == 1 and y.dtype.kind in "iu" and y.shape[0] == m:
            return one_hot(y, self.n_classes, check=False).astype(self.dtype, copy=False)
        if y.ndim == 2 and tuple(y.shape) == (m, self.n_classes):
            return y.astype(self.dtype, copy=False)
        raise ValueError(f"expected labels as ints of shape ({m},) or one-hot ({m}, "
                         f"{self.n_classes}), got {y.dtype} {tuple(y.shape)}")

    def _join(self, x, y):
        """x itself, or [x, y] for a conditional model (models.join_label)."""
        return x if y is None else join_label(x, y)

    def _fake_labels(self, m, y_real):
        """The labels y the fakes are generated with (see ``fake_labels``)."""
        if y_real is None or self.fake_labels == "real":
            return y_real
        return self._one_hot(self.rng.integers(0, self.n_classes, size=m), m)

    def _label_mask(self, joined):
        """1 on the data part of a joined input, 0 on the label part (None if unconditional)."""
        if not self.conditional:
            return None
        d = joined.shape[1] - self.n_classes
        return label_mask(joined.shape, d, dtype=joined.dtype, xp=get_array_module(joined))
