"""The template every training algorithm fills in: models, optimisers, noise, counters,
the k / n_critic schedule, sampling, and the two passes every algorithm box shares.

Each algorithm (``gan.py``, ``wgan.py``, ``wgangp.py``) writes only its paper's box:
``discriminator_step``, the inner loop's body (ONE D / critic update on one real
minibatch), and, where it differs from the shared one, ``generator_step`` (the outer
loop's G update). Derivations and the boxes: docs/derivations.md, "Training algorithms".

One call ``trainer.step(x_real, y_real)`` is one pass of the inner loop: the boxes draw a
fresh real minibatch for every D update, so one call consumes one real minibatch. After
``d_updates_per_g()`` such calls (k for GAN, n_critic for WGAN) it also makes the G update.

Labels for conditional GANs: ``conditional.py``; checkpoint state: ``state.py``.
"""
from __future__ import annotations

import contextlib
import math
from typing import NamedTuple


from .. import checks, nn, optim
from ..backend import derived_seed, get_array_module, make_rng
from ..losses import DiscriminatorLossGrad
from ..models import join_label, split_input_grad
from .conditional import FAKE_LABELS, ConditionalLabels
from .state import TrainerState

NOISES = ("normal", "uniform", "uniform_sqrt3")
STANDING_BATCHES, STANDING_BATCH_SIZE = 20, 100  # the average's BatchNorm statistics: 2,000 draws


def draw_noise(rng, noise: str, shape, dtype):
    """z ~ p_z of ``shape`` from ``rng``: N(0, I) (``"normal"``), U(-1, 1) (``"uniform"``)
    or U(-sqrt 3, sqrt 3) (``"uniform_sqrt3"``)."""
    if noise == "normal":
        return rng.standard_normal(shape, dtype=dtype)
    u = 2 * rng.random(shape, dtype=dtype) - 1                           # U(-1, 1)
    if noise == "uniform_sqrt3":
        u *= math.sqrt(3)                                                # U(-sqrt 3, sqrt 3)
    return u


def _scalar(v):
    """A 0-d array (NumPy reductions return NumPy scalars; CuPy already gives 0-d
    arrays). No host transfer either way."""
    return get_array_module(v).asarray(v)


class DiscriminatorPass(NamedTuple):
    """What :meth:`Trainer._discriminator_gradients` returns: the loss (value, ds_real,
    ds_fake), D's scores, and D's inputs (joined with their labels when conditional,
    packed when ``pack`` > 1)."""
    loss: DiscriminatorLossGrad
    s_real: object
    s_fake: object
    x_real: object
    x_fake: object


class Trainer(ConditionalLabels, TrainerState):
    """Shared state and the public API of every training algorithm.

    Attributes: ``G``, ``D`` (``nn.Sequential``), ``opt_G``, ``opt_D``, ``noise_dim`` (k),
    ``conditional``, ``n_classes`` (K), ``config`` (JSON-able hyperparameters), counters
    ``g_steps`` / ``d_steps`` (updates made; ``d_steps`` = calls of ``step()``), ``rng``
    (the backend generator every random draw of training comes from, seeded by ``seed``).

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
    ``None`` chooses automatically: separate exactly when a layer of D mixes samples
    (``D.mixes_samples``, i.e. BatchNorm).

    ``pack`` (PacGAN, Lin et al. 2018): D judges m samples at once, concatenated along the
    feature axis (channels for images): a minibatch (B, d) enters D as (B/m, m d), its
    losses are means over the B/m packs, and G's gradient dx (B/m, m d) is reshaped back
    to (B, d) (the concatenation's backward is the split). B must be a multiple of m, and
    D must take m times the input features. 1 is the plain GAN. Not with conditional.

    ``ema`` (beta in [0, 1); 0, the default, is off): keep an exponential moving average
    of G's weights, theta_bar <- beta theta_bar + (1 - beta) theta after every G update
    (``optim.ExponentialAverage``, Yazici et al. 2019), and draw ``sample()``'s samples
    from it. Training itself is unchanged: D always meets the trained G, never the
    average. The average is in ``ema_G`` (None when off) and in the checkpoint. A
    generator with BatchNorm samples from the average with statistics of its own
    (``average_statistics``): the running statistics belong to the trained weights.
    """

    loss_name = None     # "gan", "nsgan", "wgan", "wgan-gp", "lsgan", "infogan"
    code_dim = 0         # G's inputs beyond z (and the label): InfoGAN's codes

    def __init__(self, G, D, opt_G, opt_D, noise_dim=100, conditional=False, n_classes=10,
                 seed=0, noise="normal", fake_labels="real", separate_batches=None, pack=1,
                 ema=0.0):
        where = type(self).__name__
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.noise_dim = checks.integer(noise_dim, "noise_dim", where, low=1)
        self.conditional = bool(conditional)
        self.n_classes = checks.integer(n_classes, "n_classes", where, low=int(self.conditional))
        self.seed = checks.integer(seed, "seed", where, low=0)
        self.noise = checks.choice(noise, "noise", NOISES, where)
        self.fake_labels = checks.choice(fake_labels, "fake_labels", FAKE_LABELS, where)
        self.pack = checks.integer(pack, "pack", where, low=1)
        self.ema = checks.unit_interval(ema, "ema", where)
        if self.pack > 1 and self.conditional:
            raise ValueError(f"{where}: pack > 1 (PacGAN) is for unconditional training; "
                             "a packed conditional D is not supported")
        self.separate_batches = bool(D.mixes_samples if separate_batches is None
                                     else separate_batches)
        self._check_generator_input(where)
        self.dtype = G.parameters()[0][0].dtype
        self.rng = make_rng(self.seed)                      # all of training's random draws
        self._sample_rng = make_rng(derived_seed(self.seed, 1))            # sample(): never disturbs training
        self.g_steps = 0          # G updates made
        self.d_steps = 0          # D / critic updates made (= calls of step())
        self._d_since_g = 0       # D updates since the last G update
        self._g_loss = None       # generator loss of the last G update (0-d array)
        self.ema_G = optim.ExponentialAverage(G.parameters(), self.ema) if self.ema else None
        self._standing = None     # (g_steps, ema_G, average_statistics()) of the last estimate
        self.config = {"loss": self.loss_name, "noise_dim": self.noise_dim,
                       "conditional": self.conditional, "n_classes": self.n_classes,
                       "seed": self.seed, "noise": self.noise, "fake_labels": self.fake_labels,
                       "separate_batches": self.separate_batches, "pack": self.pack}
        if self.ema:                  # configs without an average stay as they were
            self.config["ema"] = self.ema

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

    # -- the algorithm: subclasses write these from their paper's box ------------------
    def d_updates_per_g(self) -> int:
        """How many D updates precede the next G update (k, or n_critic)."""
        raise NotImplementedError

    def discriminator_step(self, x_real, y_real):
        """One D / critic update on this real minibatch; returns (stats dict, s_fake)."""
        raise NotImplementedError

    def discriminator_loss(self, s_real, s_fake):
        """D's loss as (value, ds_real, ds_fake) (a two-batch ``losses`` function)."""
        raise NotImplementedError

    def generator_loss(self, s_fake):
        """The generator's loss as (value, ds_fake) (a ``losses`` function)."""
        raise NotImplementedError

    def generator_step(self, m, y_real):
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
        self._generator_backward(self.D.backward(loss.ds_fake, param_grads=False), x_fake, y)
        self.opt_G.step()
        return _scalar(loss.value)

    def _generator_backward(self, dx, x_fake, y):
        """G.backward of dx = dL/d(D's input): packs back to samples (PacGAN), the label
        part dropped (conditional); G's dL/dz is not needed."""
        if self.pack > 1:
            dx = dx.reshape(x_fake.shape)
        if y is not None:
            dx = split_input_grad(dx, x_fake.shape[1])
        self.G.backward(dx, need_dx=False)

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
            self._generator_updated()
            self._d_since_g = 0
        stats["g_loss"] = (self._g_loss if self._g_loss is not None
                           else _scalar(self.generator_loss(s_fake).value))
        return stats

    __call__ = step

    def _generator_updated(self):
        """After every G update (each algorithm's step calls it): count it, and move the
        average of G's weights, theta_bar <- beta theta_bar + (1 - beta) theta."""
        self.g_steps += 1
        if self.ema_G is not None:
            self.ema_G.step()

    def sample_noise(self, m, rng=None):
        """z ~ p_z, shape (m, noise_dim), G's dtype, from ``rng`` (default: training's)."""
        m = checks.integer(m, "m", "sample_noise", low=1)
        return draw_noise(self.rng if rng is None else rng, self.noise, (m, self.noise_dim),
                          self.dtype)

    def prior_input(self, m, rng):
        """G's input for m draws from the prior, all from ``rng``: z ~ p_z (m, k), joined
        (conditional) with labels uniform on the K classes."""
        z = self.sample_noise(m, rng=rng)
        if not self.conditional:
            return z
        return join_label(z, self._one_hot(rng.integers(0, self.n_classes, size=m), m))

    def average_statistics(self):
        """BatchNorm statistics for the average of G's weights, {name: array} in
        ``G.state_dict()``'s names ({} without an average or without BatchNorm in G).

        G's running statistics were gathered under the trained weights theta; theta_bar
        normalises differently, so its own are estimated under theta_bar from
        STANDING_BATCHES x STANDING_BATCH_SIZE draws of the prior
        (``nn.standing_statistics``), always the same draws (a generator of its own, so
        training never changes), once per G update and average at most
        (``load_state_dict`` estimates them again; so must anyone who loads
        ``ema_G``'s state by hand).
        """
        if self.ema_G is None or not self.G.mixes_samples:
            return {}
        if self._standing is None or self._standing[:2] != (self.g_steps, self.ema_G):
            rng = make_rng(derived_seed(self.seed, 2))
            inputs = (self.prior_input(STANDING_BATCH_SIZE, rng) for _ in range(STANDING_BATCHES))
            with self.ema_G.swapped_in():
                statistics = nn.standing_statistics(self.G, inputs)
            self._standing = (self.g_steps, self.ema_G, statistics)
        return self._standing[2]

    def sample(self, n=None, z=None, y=None, averaged=True):
        """x_fake = G(z) (or G([z, y])) with G in eval mode (BatchNorm uses its running
        statistics), then back in train mode; with G's averaged weights when the trainer
        keeps them (``ema``) and ``averaged`` is True (BatchNorm then uses the average's
        own statistics, ``average_statistics``), else with the trained ones.

        Give ``n`` (noise drawn from a separate sampling generator, so sampling never
        changes the training run) or ``z`` (n, noise_dim). Conditional: ``y`` int labels
        (n,) or one-hot (n, K); default ``arange(n) % K`` (each class in turn, for grids).
        """
        z = self._sampling_noise(n, z)
        n = z.shape[0]
        if self.conditional:
            y = self._one_hot(get_array_module(z).arange(n) % self.n_classes if y is None else y, n)
            z = join_label(z, y)
        return self._eval_generator(z, averaged)

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

    def _eval_generator(self, g_input, averaged=True):
        """G(g_input) in eval mode (BatchNorm's running statistics), then train mode again;
        with the average of G's weights (and its BatchNorm statistics) swapped in when
        there is one and ``averaged``."""
        if averaged and self.ema_G is not None:
            statistics = self.average_statistics()
            with self.ema_G.swapped_in(), _buffers_swapped_in(self.G, statistics):
                return self._eval_generator(g_input, averaged=False)
        self.G.eval()
        try:
            return self.G.forward(g_input)
        finally:
            self.G.train()

    # -- the pass every box's D update makes ---------------------------------------------
    def _generate(self, m, y):
        """x_fake = G(z) or G([z, y]) with a fresh z ~ p_z (m, k); G in train mode."""
        return self.G.forward(self._join(self.sample_noise(m), y))

    def _check_fake(self, x_fake, x_real):
        if x_fake.shape != x_real.shape:
            raise ValueError(f"{type(self).__name__}: G produces samples of shape "
                             f"{tuple(x_fake.shape)} but the real minibatch has shape "
                             f"{tuple(x_real.shape)}")

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

    def _discriminator_gradients(self, x_real, y_real) -> DiscriminatorPass:
        """Draw the fakes, run D on real and fake and ADD dL_D/dtheta_D (of
        ``discriminator_loss``) into D's grads: every box's "sample z ~ p_z", "sample x ~
        p_data" (the caller's minibatch) and "gradient of D's objective" lines.

        Two ways, the same gradient:

        * concatenated: s = D([x_real; x_fake]), one forward and one backward of 2m rows;
        * separate (D with BatchNorm): forward-then-backward for the real batch, then
          for the fake batch, so each is normalised with its own statistics (DCGAN). Every
          D loss here is a sum of a real term and a fake term, and the losses give each
          term alone (``discriminator_loss(s_real, None)``).

        The inputs are data (G is not trained here), so D's first layer does not form
        dL/dx (``need_dx=False``).
        """
        m = x_real.shape[0]
        y_fake = self._fake_labels(m, y_real)
        x_fake = self._generate(m, y_fake)
        self._check_fake(x_fake, x_real)
        x_real, x_fake = self._d_input(x_real, y_real), self._d_input(x_fake, y_fake)
        D, d_loss = self.D, self.discriminator_loss
        if self.separate_batches:
            s_real = D.forward(x_real)
            real = d_loss(s_real, None)
            D.backward(real.ds_real, need_dx=False)
            s_fake = D.forward(x_fake)
            fake = d_loss(None, s_fake)
            D.backward(fake.ds_fake, need_dx=False)
            loss = DiscriminatorLossGrad(_scalar(real.value + fake.value), real.ds_real,
                                         fake.ds_fake)
        else:
            xp = get_array_module(x_real)
            s = D.forward(xp.concatenate([x_real, x_fake], axis=0))
            s_real, s_fake = s[:x_real.shape[0]], s[x_real.shape[0]:]   # packs of D's input
            loss = d_loss(s_real, s_fake)
            D.backward(xp.concatenate([loss.ds_real, loss.ds_fake], axis=0), need_dx=False)
        return DiscriminatorPass(loss, s_real, s_fake, x_real, x_fake)


@contextlib.contextmanager
def _buffers_swapped_in(model, buffers):
    """Within: ``model``'s buffers named in ``buffers`` ({name: array}) hold those values;
    after, their own again (copied in place, also when interrupted)."""
    live = model.state_dict()
    kept = {name: live[name].copy() for name in buffers}
    try:
        for name, value in buffers.items():
            live[name][...] = value
        yield
    finally:
        for name, value in kept.items():
            live[name][...] = value
