"""Flow-matching building blocks: pure, stateless functions.

Time convention (see docs/DESIGN.md, kept everywhere in this package):
t = 0 is pure noise, t = 1 is data.

    x_t    = (1 - t) * noise + t * actions
    target = actions - noise                     (the velocity dx_t/dt)

Training samples t = (s - u) / s with u ~ Beta(alpha, beta) (GR00T N1: alpha 1.5, beta 1,
s 0.999), which puts more weight on the noisy end. Both time embeddings see t discretised
into integer buckets, int(t * num_buckets). Inference integrates x from noise with K Euler
steps at t_k = k / K: x <- x + v(x, t_k) / K.

Guided sampling (real-time chunking, Black et al. 2025, arXiv 2506.07339; pseudoinverse
guidance after Song et al. 2023, written here in our time convention) steers each step
towards a target Y with per-entry weights W:

    A_hat = x + (1 - t) * v(x, t)                 (the final sample predicted from x_t)
    e     = (Y - A_hat) * W
    v'    = v + min(beta, (1 - t) / (t * r_t^2)) * e^T d(A_hat)/d(x),
    r_t^2 = (1 - t)^2 / (t^2 + (1 - t)^2)

(a vector-Jacobian product; at t = 0 the weight is beta). W = 0 or beta = 0 is plain sampling.

Prefix conditioning (training-time real-time chunking, arXiv 2512.05964) gives the head the
first d rows of the chunk as data: they are clean (x = the given actions) and their action
tokens carry the time bucket of t = 1, while the other rows are noised and denoised as
usual. Training draws d per sample and leaves those rows out of the loss; sampling resets
them to the given actions before every Euler step. d = 0 is plain training and sampling.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# v(x (B, H, A), t_bucket (B,), token_bucket (B, H)): the bucket of each action token apart
PrefixVelocityFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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


def guidance_scale(t: float) -> float:
    """(1 - t) / (t * r_t^2) with r_t^2 = (1 - t)^2 / (t^2 + (1 - t)^2), i.e.
    (t^2 + (1 - t)^2) / (t * (1 - t)): inf at t = 0 and t = 1, 2 at t = 0.5."""
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"guidance_scale: t must be in [0, 1], got {t}")
    if t == 0.0 or t == 1.0:
        return math.inf
    return (t * t + (1.0 - t) ** 2) / (t * (1.0 - t))


def guided_euler_integrate(
    velocity_fn: VelocityFn,
    noise: torch.Tensor,
    num_steps: int,
    target: torch.Tensor,
    weights: torch.Tensor,
    beta: torch.Tensor | float,
    num_buckets: int = 1000,
) -> torch.Tensor:
    """`euler_integrate` with every velocity guided towards `target` (module docstring).

    Args:
        velocity_fn: v(x, t_bucket) as for `euler_integrate`; it is differentiated with
            respect to x (torch.func.vjp), so it must not run under torch.inference_mode.
        noise: x_0, (B, H, A).
        num_steps: K Euler steps at t_k = k / K.
        target: Y, (B, H, A), what the sample should match where `weights` > 0.
        weights: W, (B, H, A) (or broadcastable), >= 0; 0 = unguided entry.
        beta: the guidance clip (a float, or a 0-d / (1,) tensor for an exported graph).
        num_buckets: as for `euler_integrate`.

    Returns x_1, same shape as `noise`. The loop is unrolled in Python over static steps, so
    `torch.fx` traces it (gr00t_policy.export_guided).
    """
    if num_steps < 1:
        raise ValueError(f"guided_euler_integrate: num_steps must be >= 1, got {num_steps}")
    beta_t = torch.as_tensor(beta, dtype=noise.dtype, device=noise.device).reshape(())
    x = noise
    dt = 1.0 / num_steps
    for k in range(num_steps):
        t = k / num_steps
        bucket = time_bucket(k, num_steps, num_buckets)
        t_bucket = torch.full((noise.shape[0],), bucket, dtype=torch.long, device=noise.device)

        def predict(a: torch.Tensor, t=t, t_bucket=t_bucket) -> tuple[torch.Tensor, torch.Tensor]:
            v = velocity_fn(a, t_bucket)  # (B, H, A)
            return a + (1.0 - t) * v, v  # A_hat, and v as the auxiliary output

        a_hat, vjp_fn, v = torch.func.vjp(predict, x, has_aux=True)
        (pull,) = vjp_fn((target - a_hat) * weights)  # (B, H, A) e^T dA_hat/dx
        scale = guidance_scale(t)
        w = beta_t if math.isinf(scale) else torch.clamp(beta_t, max=scale)
        x = x + dt * (v + w * pull)  # (B, H, A)
    return x


def prefix_rows_mask(rows: torch.Tensor, horizon: int) -> torch.Tensor:
    """(B,) counts d of given rows -> (B, H) bool, True on rows 0 .. d-1."""
    index = torch.arange(horizon, device=rows.device)  # (H,)
    return index.unsqueeze(0) < rows.reshape(-1, 1)  # (B, H)


def prefix_euler_integrate(
    velocity_fn: PrefixVelocityFn,
    noise: torch.Tensor,
    num_steps: int,
    prefix: torch.Tensor,
    given: torch.Tensor,
    num_buckets: int = 1000,
) -> torch.Tensor:
    """`euler_integrate` with the rows where `given` is True held at `prefix` (module
    docstring): before every step they are set to the prefix and their tokens get the
    bucket of t = 1; the result carries them unchanged.

    Args:
        velocity_fn: v(x, t_bucket (B,), token_bucket (B, H)).
        noise: x_0, (B, H, A).
        num_steps: K Euler steps at t_k = k / K.
        prefix: (B, H, A), the given actions (read where `given` is True only).
        given: (B, H) bool. All False is `euler_integrate` exactly.
        num_buckets: as for `euler_integrate`.
    """
    if num_steps < 1:
        raise ValueError(f"prefix_euler_integrate: num_steps must be >= 1, got {num_steps}")
    batch, horizon = noise.shape[:2]
    if given.shape != (batch, horizon):
        raise ValueError(f"given has shape {tuple(given.shape)}, expected {(batch, horizon)}")
    rows = given.unsqueeze(-1)  # (B, H, 1)
    clean = torch.full((batch, horizon), num_buckets, dtype=torch.long, device=noise.device)
    x = noise
    dt = 1.0 / num_steps
    for k in range(num_steps):
        bucket = time_bucket(k, num_steps, num_buckets)
        t_bucket = torch.full((batch,), bucket, dtype=torch.long, device=noise.device)
        token_bucket = torch.where(given, clean, t_bucket.unsqueeze(1))  # (B, H)
        x = torch.where(rows, prefix, x)
        x = x + dt * velocity_fn(x, t_bucket, token_bucket)  # (B, H, A)
    return torch.where(rows, prefix, x)
