"""The benchmark's three GANs written in PyTorch, step for step like tinygan's trainers.

Used only by benchmarks/speed.py (PyTorch is an optional benchmark dependency; nothing in
tinygan/ imports it). Each ``*_step`` function does the same work as one
``trainer.step(x_real)`` of ``tinygan.train.make_trainer`` with k = n_critic = 1:

* one D / critic update: z ~ N(0, I); x_fake = G(z) (no gradient kept, like tinygan,
  which never backpropagates into G here); D on real and fake, concatenated into one
  batch of 2m rows (MLPs, as tinygan's trainers) or forward-then-backward on each batch
  in turn (DCGAN: BatchNorm normalises real and fake with their own statistics); the
  statistics tinygan returns; Adam step;
* one G update with fresh z ~ N(0, I): D's parameters are frozen (requires_grad False,
  as tinygan's ``D.backward(..., param_grads=False)`` skips dL/dtheta_D); Adam step.

Losses as in tinygan.losses: D: mean softplus(-s_real) + mean softplus(s_fake);
non-saturating G: mean softplus(-s_fake); WGAN-GP critic: mean f(x~) - mean f(x) +
lam mean (||grad f(x^)|| - 1)^2 with the gradient by double backprop
(torch.autograd.grad(create_graph=True)); G: -mean f(G(z)).

Sizes equal tinygan.models' (the initialisation is irrelevant to the speed and is
PyTorch's default). Optimisers: torch.optim.Adam with the same hyperparameters, in
PyTorch's default implementation for the device (on CPU a loop over the parameters), or
``adam="foreach"`` / ``adam="fused"`` (one multi-tensor kernel; fused needs PyTorch >= 2.4
on CPU).
"""
from __future__ import annotations

import sys

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as err:  # the optional [bench] extra is not installed
    _MISSING = ("PyTorch is not installed; it is an optional benchmark dependency: "
                "pip install -e '.[bench]' (or pip install torch)")
    if __name__ == "__main__":
        print(f"torch_reference.py: error: {_MISSING}", file=sys.stderr)
        sys.exit(2)
    raise ImportError(_MISSING) from err

NOISE_DIM = 100


def mlp(sizes, out=None):
    """Linear/LeakyReLU(0.2) stack over ``sizes``, optional output activation."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
    if out is not None:
        layers.append(out)
    return nn.Sequential(*layers)


def mlp_pair(width=1.0, in_dim=784):
    """G 100-256-512-1024-784 (tanh) and D 784-1024-512-256-1, hidden sizes x width."""
    g_hidden = [int(round(h * width)) for h in (256, 512, 1024)]
    d_hidden = [int(round(h * width)) for h in (1024, 512, 256)]
    return (mlp([NOISE_DIM] + g_hidden + [in_dim], nn.Tanh()),
            mlp([in_dim] + d_hidden + [1]))


def dcgan_pair(width=64):
    """tinygan.models.dcgan_generator / dcgan_discriminator for 28x28 images."""
    c1, c2 = 2 * width, width
    G = nn.Sequential(
        nn.Linear(NOISE_DIM, c1 * 7 * 7, bias=False), nn.BatchNorm1d(c1 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (c1, 7, 7)),
        nn.ConvTranspose2d(c1, c2, 4, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.ConvTranspose2d(c2, 1, 4, 2, 1), nn.Tanh(),
    )
    d1, d2 = width, 2 * width
    D = nn.Sequential(
        nn.Conv2d(1, d1, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(d1, d2, 4, 2, 1, bias=False), nn.BatchNorm2d(d2), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(d2 * 7 * 7, 1),
    )
    return G, D


class TorchGAN:
    """G, D, their Adam optimisers and one training step of the chosen algorithm."""

    def __init__(self, algorithm, G, D, device, lr, betas, lam=10.0, separate_batches=False,
                 adam="default"):
        self.algorithm, self.lam, self.separate = algorithm, lam, separate_batches
        self.device = torch.device(device)
        self.G, self.D = G.to(self.device).train(), D.to(self.device).train()
        options = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[adam]
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=lr, betas=betas, **options)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=lr, betas=betas, **options)

    def noise(self, m):
        return torch.randn(m, NOISE_DIM, device=self.device)

    def step(self, x_real):
        stats = self.wgangp_critic_step(x_real) if self.algorithm == "wgan-gp" \
            else self.gan_discriminator_step(x_real)
        stats["g_loss"] = self.generator_step(x_real.shape[0])
        return stats

    # -- D / critic -------------------------------------------------------------------
    def gan_discriminator_step(self, x_real):
        m = x_real.shape[0]
        self.opt_D.zero_grad()
        with torch.no_grad():
            x_fake = self.G(self.noise(m))
        if self.separate:                         # BatchNorm D: one batch at a time
            s_real = self.D(x_real)
            loss_real = F.softplus(-s_real).mean()
            loss_real.backward()
            s_fake = self.D(x_fake)
            loss_fake = F.softplus(s_fake).mean()
            loss_fake.backward()
            loss = loss_real.detach() + loss_fake.detach()
        else:
            s = self.D(torch.cat([x_real, x_fake]))
            s_real, s_fake = s[:m], s[m:]
            loss = F.softplus(-s_real).mean() + F.softplus(s_fake).mean()
            loss.backward()
        self.opt_D.step()
        with torch.no_grad():
            return {"d_loss": loss.detach(), "d_real": torch.sigmoid(s_real).mean(),
                    "d_fake": torch.sigmoid(s_fake).mean()}

    def wgangp_critic_step(self, x_real):
        m = x_real.shape[0]
        self.opt_D.zero_grad()
        with torch.no_grad():
            x_fake = self.G(self.noise(m))
        s = self.D(torch.cat([x_real, x_fake]))
        critic = s[m:].mean() - s[:m].mean()
        eps = torch.rand((m,) + (1,) * (x_real.dim() - 1), device=self.device)
        x_hat = (eps * x_real + (1 - eps) * x_fake).requires_grad_(True)
        s_hat = self.D(x_hat)
        (g,) = torch.autograd.grad(s_hat.sum(), x_hat, create_graph=True)
        norm = g.reshape(m, -1).norm(2, dim=1)
        gp = self.lam * ((norm - 1) ** 2).mean()
        (critic + gp).backward()
        self.opt_D.step()
        with torch.no_grad():
            return {"d_loss": (critic + gp).detach(), "wasserstein": -critic.detach(),
                    "gp": gp.detach(), "grad_norm": norm.mean()}

    # -- G ------------------------------------------------------------------------------
    def generator_step(self, m):
        for p in self.D.parameters():
            p.requires_grad_(False)
        self.opt_G.zero_grad()
        s_fake = self.D(self.G(self.noise(m)))
        if self.algorithm == "wgan-gp":
            loss = -s_fake.mean()
        else:
            loss = F.softplus(-s_fake).mean()
        loss.backward()
        self.opt_G.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        return loss.detach()


def build(model, device, width=1.0, adam="default"):
    """The PyTorch twin of speed.py's tinygan trainer for ``model`` in
    {"mlp", "wgan-gp", "dcgan"}; ``width`` multiplies the MLP hidden sizes; ``adam`` in
    {"default", "foreach", "fused"} picks torch.optim.Adam's implementation."""
    if model == "mlp":
        G, D = mlp_pair(width)
        return TorchGAN("nsgan", G, D, device, lr=2e-4, betas=(0.5, 0.999), adam=adam)
    if model == "wgan-gp":
        G, D = mlp_pair(width)
        return TorchGAN("wgan-gp", G, D, device, lr=1e-4, betas=(0.0, 0.9), lam=10.0,
                        adam=adam)
    if model == "dcgan":
        G, D = dcgan_pair()
        return TorchGAN("nsgan", G, D, device, lr=2e-4, betas=(0.5, 0.999),
                        separate_batches=True, adam=adam)
    raise ValueError(f"unknown model {model!r}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(
        prog="torch_reference.py",
        description=__doc__.split("\n\n")[0] + " A module of benchmarks/speed.py: run "
                    "`python benchmarks/speed.py --help` to time them.").parse_args()
