"""Flow-matching building blocks: pure, stateless functions.

Time convention (see docs/DESIGN.md, kept everywhere in this package):
t = 0 is pure noise, t = 1 is data.

    x_t    = (1 - t) * noise + t * actions
    target = actions - noise                     (the velocity dx_t/dt)

Training samples t = (s - u) / s with u ~ Beta(alpha, beta) (GR00T N1: alpha 1.5, beta 1,
s 0.999), which puts more weight on the noisy end. Both time embeddings see t discretised
into integer buckets, int(t * num_buckets). Inference integrates x from noise with K Euler
steps at t_k = k / K: x <- x + v(x, t_k) / K.
"""

from __future__ import annotations

from typing import Callable

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sample_time(
    batch: int,
    generator: torch.Generator | None = None,
    alpha: float = 1.5,
    beta: float = 1.0,
    s: float = 0.999,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Sample `batch` flow-matching times t = (s - u) / s with u ~ Beta(alpha, beta).

    With beta == 1 (or alpha == 1) u is drawn exactly by inverting the CDF (u = U**(1/alpha));
    otherwise `torch.distributions.Beta` is used, seeded from `generator` when one is given.

    Returns:
        (batch,) tensor of times; t lies in [(s - 1) / s, 1].
    """
    if batch < 1:
        raise ValueError(f"sample_time: batch must be >= 1, got {batch}")
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"sample_time: alpha and beta must be > 0, got {alpha}, {beta}")
    if not 0.0 < s <= 1.0:
        raise ValueError(f"sample_time: s must be in (0, 1], got {s}")
    if beta == 1.0 or alpha == 1.0:
        uniform = torch.rand(batch, generator=generator, device=device, dtype=torch.float64)
        if beta == 1.0:
            u = uniform.pow(1.0 / alpha)  # CDF of Beta(a, 1) is u**a
        else:
            u = 1.0 - uniform.pow(1.0 / beta)  # CDF of Beta(1, b) is 1 - (1 - u)**b
    else:
        dist = torch.distributions.Beta(
            torch.tensor(float(alpha), dtype=torch.float64, device=device),
            torch.tensor(float(beta), dtype=torch.float64, device=device),
        )
        if generator is None:
            u = dist.sample((batch,))
        else:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
            devices = [] if device is None or torch.device(device).type == "cpu" else [device]
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                u = dist.sample((batch,))
    return ((s - u) / s).to(dtype)  # (B,)


def interpolate(noise: torch.Tensor, actions: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) * noise + t * actions; `t` is (B,) and broadcast over the other dims."""
    t = t.reshape(t.shape[0], *([1] * (actions.dim() - 1))).to(actions.dtype)  # (B, 1, 1)
    return (1.0 - t) * noise + t * actions  # (B, H, A)


def target_velocity(noise: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The flow-matching regression target, actions - noise."""
    return actions - noise  # (B, H, A)


def discretize(t: torch.Tensor, num_buckets: int = 1000) -> torch.Tensor:
    """int(t * num_buckets) as a long tensor (truncation toward zero, like Python's int)."""
    return (t * num_buckets).to(torch.long)  # (B,)


def time_bucket(step: int, num_steps: int, num_buckets: int = 1000) -> int:
    """Bucket of the Euler step `step` of `num_steps`: int(step / num_steps * num_buckets)."""
    return int(step / float(num_steps) * num_buckets)


def euler_integrate(
    velocity_fn: VelocityFn,
    noise: torch.Tensor,
    num_steps: int,
    num_buckets: int = 1000,
) -> torch.Tensor:
    """Integrate dx/dt = v(x, t) from t = 0 (noise) to t = 1 with `num_steps` Euler steps.

    Args:
        velocity_fn: v(x (B, ...), t_bucket (B,) long) -> (B, ...); must not keep state.
        noise: the starting point x_0, (B, ...).
        num_steps: K; step k evaluates v at t_k = k / K.
        num_buckets: t_k is passed to `velocity_fn` as int(t_k * num_buckets).

    Returns:
        x_1, same shape as `noise`.
    """
    if num_steps < 1:
        raise ValueError(f"euler_integrate: num_steps must be >= 1, got {num_steps}")
    x = noise
    dt = 1.0 / num_steps
    for k in range(num_steps):
        bucket = time_bucket(k, num_steps, num_buckets)
        t_bucket = torch.full((noise.shape[0],), bucket, dtype=torch.long, device=noise.device)
        x = x + dt * velocity_fn(x, t_bucket)  # (B, ...)
    return x
