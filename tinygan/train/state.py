"""A trainer's checkpoint state: arrays by name, and JSON metadata (counters, optimiser
scalars, the random generators' states). Restoring both makes a resumed run on NumPy
bit-identical to an uninterrupted one. Nothing here is pickled."""
from __future__ import annotations

from ..backend import backend_name, derived_seed, get_array_module, make_rng

META_FORMAT = "tinygan.trainer/1"


class TrainerState:
    """``state_dict`` / ``meta`` / ``load_state_dict`` for :class:`tinygan.train.Trainer`."""

    def state_dict(self):
        """Flat {name: array}: ``G.<i>.<param>``, ``D.<i>.<param>`` (and BatchNorm
        buffers), ``opt_G.<state>.<i>``, ``opt_D.<state>.<i>`` and, with ``ema``, G's
        averaged weights ``ema_G.average.<i>`` (G.parameters()' order), with a BatchNorm
        generator also the average's statistics ``ema_G_batchnorm.<G's buffer name>``
        (``average_statistics()``; derived, so loading ignores them). The optimisers'
        Python scalars (t, lr, betas, ...) go to ``meta()``."""
        return {**self.G.state_dict("G."), **self.D.state_dict("D."),
                **{f"{name}.{key}": value for name, opt in self._named_optimizers()
                   for key, value in opt.state_dict().items() if hasattr(value, "shape")},
                **{f"ema_G_batchnorm.{k}": v for k, v in self.average_statistics().items()}}

    def _named_optimizers(self):
        """The optimisers, and the average of G's weights (kept like an optimiser's state)."""
        named = (("opt_G", self.opt_G), ("opt_D", self.opt_D))
        return named if self.ema_G is None else named + (("ema_G", self.ema_G),)

    def meta(self):
        """JSON-able: loss, config, counters, optimiser scalars, generator states.

        The noise generators' states are exact on NumPy (``bit_generator.state``), so a
        resumed run is bit-identical to an uninterrupted one. CuPy generators cannot
        export their state: ``load_state_dict`` then re-seeds them from (seed, d_steps) -
        deterministic, but a different noise stream from the uninterrupted run.
        Reads the last generator loss back to the host (call between steps, not in one).
        """
        optimizers = {name: {"t": opt.t, **opt.hyperparameter_values()}
                      for name, opt in self._named_optimizers()}
        return {
            "format": META_FORMAT, "loss": self.loss_name, "config": dict(self.config),
            "backend": backend_name(), "g_steps": self.g_steps, "d_steps": self.d_steps,
            "d_since_g": self._d_since_g,
            "last_g_loss": None if self._g_loss is None else float(self._g_loss),
            "optimizers": optimizers,
            "rng": _rng_state(self.rng), "sample_rng": _rng_state(self._sample_rng),
        }

    def load_state_dict(self, arrays, meta):
        """Restore models, optimisers, counters and generators from ``state_dict()`` /
        ``meta()`` output (e.g. read back by ``tinygan.checkpoint.load``). The trainer
        must have been built with the same loss and configuration."""
        where = f"{type(self).__name__}.load_state_dict"
        if meta.get("format") != META_FORMAT:
            raise ValueError(f"{where}: meta is not a trainer's meta() (format "
                             f"{meta.get('format')!r}, expected {META_FORMAT!r})")
        if meta["loss"] != self.loss_name:
            raise ValueError(f"{where}: checkpoint was written by a {meta['loss']!r} trainer, "
                             f"this one is {self.loss_name!r}")
        # the optimisers' hyperparameters are restored with their state (a schedule may
        # have changed lr), so only the optimiser kind must agree
        saved, mine = dict(meta["config"]), dict(self.config)
        if saved.get("ema", 0.0) != mine.get("ema", 0.0):     # absent: no average kept
            raise ValueError(f"{where}: the checkpoint's average of G's weights has ema = "
                             f"{saved.get('ema', 0.0)}, this trainer's {mine.get('ema', 0.0)} "
                             "(0: none)")
        saved_opt, my_opt = saved.pop("optimizer", None), mine.pop("optimizer", None)
        differ = {k: (v, mine.get(k)) for k, v in saved.items() if mine.get(k) != v}
        if saved_opt and my_opt and saved_opt["kind"] != my_opt["kind"]:
            differ["optimizer"] = (saved_opt["kind"], my_opt["kind"])
        if differ:
            raise ValueError(f"{where}: configuration differs from the checkpoint's "
                             f"(name: (checkpoint, this trainer)): {differ}")
        self.G.load_state_dict(arrays, "G.")
        self.D.load_state_dict(arrays, "D.")
        for name, opt in self._named_optimizers():
            prefix = name + "."
            opt.load_state_dict({**meta["optimizers"][name], **{
                k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}})
        self.g_steps, self.d_steps = int(meta["g_steps"]), int(meta["d_steps"])
        self._standing = None                      # estimated again under the loaded average
        self._d_since_g = int(meta["d_since_g"])
        last = meta["last_g_loss"]
        xp = get_array_module(self.G.parameters()[0][0])
        self._g_loss = None if last is None else xp.asarray(last, dtype=self.dtype)
        self.rng = _restore_rng(meta["rng"], self.seed, self.d_steps, 0)
        self._sample_rng = _restore_rng(meta["sample_rng"], self.seed, self.d_steps, 1)


def _rng_state(rng):
    """{"state": bit_generator.state} on NumPy (JSON-able ints and strings); None on CuPy."""
    state = getattr(getattr(rng, "bit_generator", None), "state", None)
    return {"state": state if isinstance(state, dict) else None}


def _restore_rng(saved, seed, d_steps, stream):
    """A generator in the saved state (NumPy) or re-seeded from (seed, d_steps, stream)."""
    state = saved.get("state")
    if state is not None and backend_name() == "numpy":
        rng = make_rng(0)
        rng.bit_generator.state = state
        return rng
    return make_rng(derived_seed(seed, d_steps, stream, 1))
