"""Cost of the WGAN-GP gradient penalty: one critic step with it vs one without.

The target: a penalty critic step costs at most 3x a plain critic step (double backprop
is about three passes of the critic).

Critic: the MNIST MLP critic 784-1024-512-256-1, LeakyReLU(0.2), float32, batch m = 64,
Adam (Gulrajani et al. 2017: lr 1e-4, betas (0, 0.9)).

    plain step    zero_grad; s = f([x; x_fake]) (one forward of the 2m real and fake
                  samples, so one backward serves both); Wasserstein critic loss;
                  backward; Adam step
    penalty step  the same + x_hat = interpolate(x, x_fake) + gradient_penalty(f, x_hat)
                  (its dP/dtheta is added into the same grads before the Adam step)

Matrix products per affine layer (units of an m-row product): plain 3 x 2m = 6
(forward, dW, dx). The penalty adds forward, input gradient, tangent and the reverse
pass through the pair, 4 products of which only x_dot^T dy_dot and A_W^T dy_dot remain
in a LeakyReLU critic (dy = 0 there; the first layer's A_W^T dy_dot is not needed
either): 5 per layer, 4 for the first. About (6 + 4.5) / 6 ~ 1.75x before elementwise
work and Adam (without the skips 13/6 ~ 2.2x).

    python benchmarks/penalty_cost.py --backend numpy --repeats 30
    OPENBLAS_NUM_THREADS=1 python benchmarks/penalty_cost.py --repeats 40   # shared CPUs:
        # one BLAS thread keeps other processes' load from dominating the figures
    python benchmarks/penalty_cost.py --backend cupy --repeats 200
"""
from __future__ import annotations

import argparse
import statistics
import time

from tinygan import backend, nn
from tinygan.lipschitz import gradient_penalty, interpolate
from tinygan.losses import wasserstein_critic
from tinygan.optim import Adam


def build_critic(rng, dtype):
    sizes = (784, 1024, 512, 256, 1)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out, init="he", rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=backend.BACKENDS, default="numpy")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps of each kind")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--repeats and --batch must be >= 1, --warmup >= 0")

    xp = backend.set_backend(args.backend, seed=0)
    rng = backend.make_rng(0)
    dtype = xp.float32
    m = args.batch
    critic = build_critic(rng, dtype)
    opt = Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))
    x_real = rng.uniform(-1, 1, size=(m, 784)).astype(dtype)
    x_fake = rng.uniform(-1, 1, size=(m, 784)).astype(dtype)
    x_both = xp.concatenate([x_real, x_fake])

    def sync():
        if args.backend == "cupy":
            xp.cuda.get_current_stream().synchronize()

    def wasserstein_part():
        s = critic.forward(x_both)
        loss = wasserstein_critic(s[:m], s[m:])
        critic.backward(xp.concatenate([loss.ds_real, loss.ds_fake]))
        return loss.value

    def plain_step():
        critic.zero_grad()
        wasserstein_part()
        opt.step()

    def penalty_step():
        critic.zero_grad()
        wasserstein_part()
        x_hat, _ = interpolate(x_real, x_fake, rng)
        gradient_penalty(critic, x_hat, lam=10.0)
        opt.step()

    x_hat_fixed, _ = interpolate(x_real, x_fake, rng)

    def penalty_only():
        gradient_penalty(critic, x_hat_fixed, lam=10.0)

    steps = {"plain": plain_step, "penalty": penalty_step,
             "gradient_penalty alone": penalty_only}
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    sync()
    # the kinds alternate step by step, so drifting load on a shared machine hits all alike
    times = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            sync()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    best = {name: min(t) for name, t in times.items()}   # least disturbed by other load

    print(f"backend {args.backend}, float32, MLP critic 784-1024-512-256-1 LeakyReLU(0.2), "
          f"batch {m}, Adam; median of {args.repeats} alternating steps")
    print(f"  {'':24s} {'median':>9s}    {'min':>9s}")
    for name in steps:
        print(f"  {name:24s} {1e3 * med[name]:9.3f} ms {1e3 * best[name]:9.3f} ms")
    ratio = med["penalty"] / med["plain"]
    print(f"  ratio penalty / plain    {ratio:9.2f}x   {best['penalty'] / best['plain']:9.2f}x"
          f"   (target <= 3x: {'met' if ratio <= 3 else 'NOT met'} on the medians)")
    return ratio


if __name__ == "__main__":
    main()
