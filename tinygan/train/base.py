"""The machinery every training algorithm shares: models, optimisers, noise, counters,
the k / n_critic schedule, sampling and checkpoint state.

Each algorithm (``gan.py``, ``wgan.py``, ``wgangp.py``, ``lsgan.py``) writes only its
paper's algorithm box: ``discriminator_step`` (the inner loop body: ONE D / critic update
on one real minibatch) and ``generator_step`` (the outer loop's G update), from the
pieces below. Derivations and the boxes themselves: docs/derivations.md,
"Training algorithms".

One call ``trainer.step(x_real, y_real)`` is one pass of the inner loop: the boxes draw a
fresh real minibatch for every D update, so one call consumes one real minibatch. After
``d_updates_per_g()`` such calls (k for GAN, n_critic for WGAN) it also makes the G update.
"""
from __future__ import annotations

import math

import numpy  # host-only: seeds and checkpoint metadata

from ..backend import asarray, backend_name, get_array_module, make_rng
from ..models import join_label, label_mask, split_input_grad

NOISES = ("normal", "uniform", "uniform_sqrt3")
FAKE_LABELS = ("real", "uniform")
META_FORMAT = "tinygan.trainer/1"


def _scalar(v):
    """A 0-d array (NumPy reductions return NumPy scalars; CuPy already gives 0-d
    arrays). No host transfer either way."""
    return get_array_module(v).asarray(v)


def check_int(value, name, low, where):
    if isinstance(value, bool) or int(value) != value or value < low:
        raise ValueError(f"{where}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_real(value, name, where, low=0.0, strict=False):
    """A finite Python number >= low (> low when strict), else a clear ValueError."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value) and (value > low if strict else value >= low))
    if not ok:
        raise ValueError(f"{where}: {name} must be a finite number {'>' if strict else '>='} "
                         f"{low:g}, got {value!r}")
    return float(value)


def check_choice(value, name, choices, where):
    if value not in choices:
        raise ValueError(f"{where}: unknown {name} {value!r}; expected one of {choices}")
    return value


class Trainer:
    """Shared state and the public API of every training algorithm.

    Attributes: ``G``, ``D`` (``nn.Sequential``), ``opt_G``, ``opt_D``, ``noise_dim`` (k),
    ``conditional``, ``n_classes`` (K), ``config`` (JSON-able hyperparameters), counters
    ``g_steps`` / ``d_steps`` (updates made), ``rng`` (the backend generator every random
    draw of training comes from, seeded by ``seed``).

    ``noise``: p_z is N(0, I) (``"normal"``), U(-1, 1)^k (``"uniform"``, Radford et
    al.'s choice) or U(-sqrt 3, sqrt 3)^k (``"uniform_sqrt3"``: zero mean, unit variance,
    the uniform noise of Goodfellow et al.'s code, ``Generator.get_noise``).

    ``fake_labels`` (conditional only): the labels y given to G(z, y) are the current real
    minibatch's labels (``"real"``, default: the fakes then have the data's label
    distribution, and WGAN-GP's interpolates x_hat sit between a real and a fake of the
    same class) or drawn uniformly from the K classes (``"uniform"``).

    ``separate_batches``: run D forward-then-backward on the real and on the fake batch
    separately (needed when D has BatchNorm: DCGAN normalises real and fake minibatches
    with their own statistics) instead of once on the concatenated batch (faster).
    ``None`` chooses automatically: separate exactly when some layer of D mixes samples
    (``supports_jvp`` is False, i.e. BatchNorm).

    ``pack`` (PacGAN, Lin et al. 2018): D judges m samples at once, concatenated along the
    feature axis (channels for images): a minibatch (B, d) enters D as (B/m, m d), its
    losses are means over the B/m packs, and G's gradient dx (B/m, m d) is reshaped back
    to (B, d) (the concatenation's backward is the split). B must be a multiple of m, and
    D must take m times the input features. 1 is the plain GAN. Not with conditional.
    """

    loss_name = None     # "gan", "nsgan", "wgan", "wgan-gp", "lsgan", "infogan"
    code_dim = 0         # G's inputs beyond z (and the label): InfoGAN's codes

    def __init__(self, G, D, opt_G, opt_D, noise_dim=100, conditional=False, n_classes=10,
                 seed=0, noise="normal", fake_labels="real", separate_batches=None, pack=1):
        where = type(self).__name__
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.noise_dim = check_int(noise_dim, "noise_dim", 1, where)
        self.conditional = bool(conditional)
        self.n_classes = check_int(n_classes, "n_classes", 1 if self.conditional else 0, where)
        self.seed = check_int(seed, "seed", 0, where)
        self.noise = check_choice(noise, "noise", NOISES, where)
        self.fake_labels = check_choice(fake_labels, "fake_labels", FAKE_LABELS, where)
        self.pack = check_int(pack, "pack", 1, where)
        if self.pack > 1 and self.conditional:
            raise ValueError(f"{where}: pack > 1 (PacGAN) is for unconditional training; "
                             "a packed conditional D is not supported")
        if separate_batches is None:
            separate_batches = not D.supports_jvp
        self.separate_batches = bool(separate_batches)
        self._check_generator_input(where)
        self.dtype = G.parameters()[0][0].dtype
        self.rng = make_rng(self.seed)                      # all of training's random draws
        self._sample_rng = make_rng(self._sample_seed())    # sample(): never disturbs training
        self.g_steps = 0          # G updates made
        self.d_steps = 0          # D / critic updates made (= calls of step())
        self._d_since_g = 0       # D updates since the last G update
        self._g_loss = None       # generator loss of the last G update (0-d array)
        self.config = {"loss": self.loss_name, "noise_dim": self.noise_dim,
                       "conditional": self.conditional, "n_classes": self.n_classes,
                       "seed": self.seed, "noise": self.noise, "fake_labels": self.fake_labels,
                       "separate_batches": self.separate_batches, "pack": self.pack}

    def _check_generator_input(self, where):
        first = self.G.layers[0] if hasattr(self.G, "layers") else self.G
        want = self.noise_dim + (self.n_classes if self.conditional else 0) + self.code_dim
        n_in = getattr(first, "n_in", None)
        if n_in is not None and n_in != want:
            raise ValueError(
                f"{where}: G's first layer takes {n_in} inputs but expected {want} = noise_dim"
                f"{' + n_classes' if self.conditional else ''}"
                f"{' + code_dim' if self.code_dim else ''} (noise_dim={self.noise_dim}, "
                f"conditional={self.conditional}, n_classes={self.n_classes})")

    def _sample_seed(self):
        return int(numpy.random.SeedSequence([self.seed, 1]).generate_state(1)[0])

    # -- the algorithm: subclasses write these from their paper's box ------------------
    def d_updates_per_g(self) -> int:
        """How many D updates precede the next G update (k, or n_critic)."""
        raise NotImplementedError

    def discriminator_step(self, x_real, y_real):
        """One D / critic update on this real minibatch; returns (stats dict, s_fake)."""
        raise NotImplementedError

    def generator_step(self, m, y_real):
        """One G update with a fresh noise minibatch of size m; returns the loss value."""
        raise NotImplementedError

    def generator_loss(self, s_fake):
        """The generator's loss as (value, ds_fake) (a ``losses`` function)."""
        raise NotImplementedError

    # -- public API --------------------------------------------------------------------
    def step(self, x_real, y_real=None):
        """One D / critic update on ``x_real`` and, when the schedule says so, one G update.

        x_real: (m, d) or (m, C, H, W) on the backend device, the models' dtype.
        y_real: conditional only, int labels (m,) or one-hot (m, K).
        Returns a dict of 0-d device arrays (no host sync): ``d_loss``, ``g_loss`` (the
        generator loss of the last G update; before the first one, the generator loss of
        this call's fakes) and the algorithm's statistics.
        """
        y = self._labels(x_real, y_real)
        stats, s_fake = self.discriminator_step(x_real, y)
        self.d_steps += 1
        self._d_since_g += 1
        if self._d_since_g >= self.d_updates_per_g():
            self._g_loss = self.generator_step(x_real.shape[0], y)
            self.g_steps += 1
            self._d_since_g = 0
        stats["g_loss"] = (self._g_loss if self._g_loss is not None
                           else _scalar(self.generator_loss(s_fake).value))
        return stats

    __call__ = step

    @property
    def calls(self) -> int:
        """Calls of ``step()`` so far (each makes one D update)."""
        return self.d_steps

    def sample_noise(self, m, rng=None):
        """z ~ p_z, shape (m, noise_dim), G's dtype, from ``rng`` (default: training's)."""
        m = check_int(m, "m", 1, "sample_noise")
        rng = self.rng if rng is None else rng
        if self.noise == "normal":
            return rng.standard_normal((m, self.noise_dim), dtype=self.dtype)
        u = 2 * rng.random((m, self.noise_dim), dtype=self.dtype) - 1        # U(-1, 1)
        if self.noise == "uniform_sqrt3":
            u *= math.sqrt(3)                                                # U(-sqrt 3, sqrt 3)
        return u

    def sample(self, n=None, z=None, y=None):
        """x_fake = G(z) (or G([z, y])) with G in eval mode (BatchNorm uses its running
        statistics), then back in train mode.

        Give ``n`` (noise drawn from a separate sampling generator, so sampling never
        changes the training run) or ``z`` (n, noise_dim). Conditional: ``y`` int labels
        (n,) or one-hot (n, K); default ``arange(n) % K`` (each class in turn, for grids).
        """
        z = self._sampling_noise(n, z)
        n = z.shape[0]
        if self.conditional:
            xp = get_array_module(z)
            y = self._one_hot(xp.arange(n) % self.n_classes if y is None else y, n)
            z = join_label(z, y)
        return self._eval_generator(z)

    def _sampling_noise(self, n, z):
        """The given z (checked), or n draws from the sampling generator."""
        if z is None:
            if n is None:
                raise ValueError("sample: give n (number of samples) or z (n, noise_dim)")
            return self.sample_noise(n, rng=self._sample_rng)
        if z.ndim != 2 or z.shape[1] != self.noise_dim:
            raise ValueError(f"sample: expected z of shape (n, {self.noise_dim}), "
                             f"got {tuple(z.shape)}")
        return z

    def _eval_generator(self, g_input):
        """G(g_input) in eval mode (BatchNorm's running statistics), then train mode again."""
        self.G.eval()
        try:
            return self.G.forward(g_input)
        finally:
            self.G.train()

    # -- pieces the algorithm boxes are written with ------------------------------------
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
        xp = get_array_module(y)
        if y.ndim == 1 and y.dtype.kind in "iu" and y.shape[0] == m:
            classes = xp.arange(self.n_classes, dtype=y.dtype)
            return (y[:, None] == classes[None, :]).astype(self.dtype)
        if y.ndim == 2 and tuple(y.shape) == (m, self.n_classes):
            return y.astype(self.dtype, copy=False)
        raise ValueError(f"expected labels as ints of shape ({m},) or one-hot ({m}, "
                         f"{self.n_classes}), got {y.dtype} {tuple(y.shape)}")

    def _join(self, x, y):
        """x itself, or [x, y] for a conditional model (models.join_label)."""
        return x if y is None else join_label(x, y)

    def _d_input(self, x, y):
        """What D sees: [x, y] joined, then packed (PacGAN): (B, d, ...) -> (B/m, m d, ...),
        m consecutive samples side by side along axis 1."""
        x = self._join(x, y)
        if self.pack == 1:
            return x
        b = x.shape[0]
        if b % self.pack:
            raise ValueError(f"{type(self).__name__}: the minibatch size {b} is not a "
                             f"multiple of pack = {self.pack} (PacGAN packs m samples for D)")
        return x.reshape((b // self.pack, self.pack * x.shape[1]) + tuple(x.shape[2:]))

    def _fake_labels(self, m, y_real):
        """The labels y the fakes are generated with (see ``fake_labels``)."""
        if y_real is None or self.fake_labels == "real":
            return y_real
        return self._one_hot(self.rng.integers(0, self.n_classes, size=m), m)

    def _generate(self, m, y):
        """x_fake = G(z) or G([z, y]) with a fresh z ~ p_z (m, k); G in train mode."""
        z = self.sample_noise(m)
        return self.G.forward(self._join(z, y))

    def _draw_fakes(self, x_real, y_real):
        """A minibatch of fakes like ``x_real``: (x_fake, y_fake), y_fake None unless
        conditional. The "sample z(1..m) ~ p_z" line of every algorithm box."""
        m = x_real.shape[0]
        y_fake = self._fake_labels(m, y_real)
        x_fake = self._generate(m, y_fake)
        self._check_fake(x_fake, x_real)
        return x_fake, y_fake

    def _check_fake(self, x_fake, x_real):
        if x_fake.shape != x_real.shape:
            raise ValueError(f"{type(self).__name__}: G produces samples of shape "
                             f"{tuple(x_fake.shape)} but the real minibatch has shape "
                             f"{tuple(x_real.shape)}")

    def _discriminator_gradients(self, x_real, x_fake, d_loss):
        """Forward D on real and fake, ADD dL_D/dtheta_D into D's grads.

        ``d_loss(s_real, s_fake)`` -> (value, ds_real, ds_fake). Returns (loss, s_real,
        s_fake). Two ways, the same gradient:

        * concatenated: s = D([x_real; x_fake]), one forward and one backward of 2m rows;
        * separate (D with BatchNorm): forward-then-backward for the real batch, then
          for the fake batch, so each is normalised with its own statistics (DCGAN). Every
          D loss here is a sum of a real term and a fake term, so ds_real depends on
          s_real only and can be taken before s_fake exists: d_loss(s_real, s_real).ds_real.

        The inputs are data (G is not trained here), so D's first layer does not form
        dL/dx (``need_dx=False``).
        """
        xp = get_array_module(x_real)
        D = self.D
        if self.separate_batches:
            s_real = D.forward(x_real)
            D.backward(d_loss(s_real, s_real).ds_real, need_dx=False)
            s_fake = D.forward(x_fake)
            D.backward(d_loss(s_fake, s_fake).ds_fake, need_dx=False)
            return d_loss(s_real, s_fake), s_real, s_fake
        m = x_real.shape[0]
        s = D.forward(xp.concatenate([x_real, x_fake], axis=0))
        s_real, s_fake = s[:m], s[m:]
        loss = d_loss(s_real, s_fake)
        D.backward(xp.concatenate([loss.ds_real, loss.ds_fake], axis=0), need_dx=False)
        return loss, s_real, s_fake

    def _generator_update(self, m, y_real):
        """One G update, the same in every box (only the loss differs):

            z ~ p_z;  x_fake = G(z);  s = D(x_fake);  (L_G, ds) = generator_loss(s)
            dx = D.backward(ds, param_grads=False)     D's grads untouched
            G.backward(dx);  opt_G.step()

        Conditional: G([z, y]), D([x_fake, y]), and the label part of dx is dropped.
        Packed (PacGAN): D sees packs of samples, and dx is reshaped back to x_fake's shape.
        Returns L_G (0-d array).
        """
        y = self._fake_labels(m, y_real)
        self.G.zero_grad()
        x_fake = self._generate(m, y)
        s_fake = self.D.forward(self._d_input(x_fake, y))
        loss = self.generator_loss(s_fake)
        dx = self.D.backward(loss.ds_fake, param_grads=False)
        if self.pack > 1:
            dx = dx.reshape(x_fake.shape)
        if y is not None:
            dx = split_input_grad(dx, x_fake.shape[1])
        self.G.backward(dx, need_dx=False)       # dL/dz is not needed
        self.opt_G.step()
        return _scalar(loss.value)

    def _label_mask(self, joined):
        """1 on the data part of a joined input, 0 on the label part (None if unconditional)."""
        if not self.conditional:
            return None
        d = joined.shape[1] - self.n_classes
        return label_mask(joined.shape, d, dtype=joined.dtype, xp=get_array_module(joined))

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self):
        """Flat {name: array}: ``G.<i>.<param>``, ``D.<i>.<param>`` (and BatchNorm
        buffers), ``opt_G.<state>.<i>``, ``opt_D.<state>.<i>``. Arrays, not copies; the
        optimisers' Python scalars (t, lr, betas, ...) go to ``meta()``."""
        arrays = dict(self.G.state_dict("G."))
        arrays.update(self.D.state_dict("D."))
        for name, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            for key, value in opt.state_dict().items():
                if hasattr(value, "shape"):
                    arrays[f"{name}.{key}"] = value
        return arrays

    def meta(self):
        """JSON-able: loss, config, counters, optimiser scalars, generator states.

        The noise generators' states are exact on NumPy (``bit_generator.state``), so a
        resumed run is bit-identical to an uninterrupted one. CuPy generators cannot
        export their state: ``load_state_dict`` then re-seeds them from (seed, calls) -
        deterministic, but a different noise stream from the uninterrupted run.
        Reads the last generator loss back to the host (call between steps, not in one).
        """
        optimizers = {}
        for name, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            optimizers[name] = {k: v for k, v in opt.state_dict().items()
                                if not hasattr(v, "shape")}
        return {
            "format": META_FORMAT,
            "loss": self.loss_name,
            "config": dict(self.config),
            "backend": backend_name(),
            "g_steps": self.g_steps,
            "d_steps": self.d_steps,
            "calls": self.calls,
            "d_since_g": self._d_since_g,
            "last_g_loss": None if self._g_loss is None else float(self._g_loss),
            "optimizers": optimizers,
            "rng": _rng_state(self.rng),
            "sample_rng": _rng_state(self._sample_rng),
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
        saved_opt, my_opt = saved.pop("optimizer", None), mine.pop("optimizer", None)
        differ = {k: (v, mine.get(k)) for k, v in saved.items() if mine.get(k) != v}
        if saved_opt and my_opt and saved_opt["kind"] != my_opt["kind"]:
            differ["optimizer"] = (saved_opt["kind"], my_opt["kind"])
        if differ:
            raise ValueError(f"{where}: configuration differs from the checkpoint's "
                             f"(name: (checkpoint, this trainer)): {differ}")
        self.G.load_state_dict(arrays, "G.")
        self.D.load_state_dict(arrays, "D.")
        for name, opt in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            state = dict(meta["optimizers"][name])
            prefix = name + "."
            state.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            opt.load_state_dict(state)
        self.g_steps, self.d_steps = int(meta["g_steps"]), int(meta["d_steps"])
        self._d_since_g = int(meta["d_since_g"])
        last = meta["last_g_loss"]
        xp = get_array_module(self.G.parameters()[0][0])
        self._g_loss = None if last is None else xp.asarray(last, dtype=self.dtype)
        self.rng = _restore_rng(meta["rng"], self.seed, self.calls, 0)
        self._sample_rng = _restore_rng(meta["sample_rng"], self.seed, self.calls, 1)


def _rng_state(rng):
    """{"state": bit_generator.state} on NumPy (JSON-able ints and strings); None on CuPy."""
    state = getattr(getattr(rng, "bit_generator", None), "state", None)
    return {"state": state if isinstance(state, dict) else None}


def _restore_rng(saved, seed, calls, stream):
    """A generator in the saved state (NumPy) or re-seeded from (seed, calls, stream)."""
    state = saved.get("state")
    if state is not None and backend_name() == "numpy":
        rng = make_rng(0)
        rng.bit_generator.state = state
        return rng
    derived = numpy.random.SeedSequence([seed, calls, stream, 1]).generate_state(1)[0]
    return make_rng(int(derived))
