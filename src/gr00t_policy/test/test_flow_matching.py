"""Closed-form checks of the flow-matching functions (t = 0 noise, t = 1 data)."""

from __future__ import annotations

import pytest
import torch

from gr00t_policy.flow_matching import (
    discretize,
    euler_integrate,
    interpolate,
    sample_time,
    target_velocity,
    time_bucket,
)


def beta_moments(a: float, b: float) -> tuple[float, float]:
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    return mean, var


@pytest.mark.parametrize("alpha,beta", [(1.5, 1.0), (2.0, 3.0), (1.0, 2.5)])
def test_sample_time_matches_closed_form_moments(alpha: float, beta: float) -> None:
    s = 0.999
    n = 200_000
    gen = torch.Generator().manual_seed(0)
    t = sample_time(n, gen, alpha, beta, s, dtype=torch.float64)
    u_mean, u_var = beta_moments(alpha, beta)
    t_mean = (s - u_mean) / s  # t = (s - u) / s is affine in u
    t_var = u_var / s**2
    stderr = (t_var / n) ** 0.5
    assert t.shape == (n,)
    assert abs(t.mean().item() - t_mean) < 5 * stderr
    assert abs(t.var().item() - t_var) / t_var < 0.02
    assert t.min().item() >= (s - 1) / s - 1e-12 and t.max().item() <= 1.0


def test_sample_time_default_is_gr00t_distribution_and_seeded() -> None:
    a = sample_time(1000, torch.Generator().manual_seed(3))
    b = sample_time(1000, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    # Beta(1.5, 1): E[u] = 0.6 -> E[t] = (0.999 - 0.6) / 0.999
    assert abs(sample_time(100_000, torch.Generator().manual_seed(1)).mean().item()
               - (0.999 - 0.6) / 0.999) < 0.005
    general_a = sample_time(100, torch.Generator().manual_seed(5), 2.0, 3.0)
    general_b = sample_time(100, torch.Generator().manual_seed(5), 2.0, 3.0)
    assert torch.equal(general_a, general_b)


def test_sample_time_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch"):
        sample_time(0)
    with pytest.raises(ValueError, match="alpha"):
        sample_time(4, alpha=-1.0)
    with pytest.raises(ValueError, match="s must"):
        sample_time(4, s=1.5)


def test_interpolation_endpoints_and_target() -> None:
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(3, 16, 7, generator=gen)
    actions = torch.randn(3, 16, 7, generator=gen)
    assert torch.equal(interpolate(noise, actions, torch.zeros(3)), noise)
    assert torch.equal(interpolate(noise, actions, torch.ones(3)), actions)
    half = interpolate(noise, actions, torch.full((3,), 0.5))
    torch.testing.assert_close(half, 0.5 * (noise + actions))
    # d x_t / d t = actions - noise
    t0, t1 = torch.full((3,), 0.3), torch.full((3,), 0.7)
    slope = (interpolate(noise, actions, t1) - interpolate(noise, actions, t0)) / 0.4
    torch.testing.assert_close(slope, target_velocity(noise, actions), atol=1e-5, rtol=1e-5)


def test_discretize_truncates_like_int() -> None:
    t = torch.tensor([0.0, 0.2505, 0.999, 1.0, -0.0005])
    assert discretize(t, 1000).tolist() == [int(x * 1000) for x in t.tolist()] == [0, 250, 999, 1000, 0]
    assert [time_bucket(k, 4) for k in range(4)] == [0, 250, 500, 750]
    assert [time_bucket(k, 3) for k in range(3)] == [0, 333, 666]


@pytest.mark.parametrize("num_steps", [1, 4, 10])
def test_euler_on_straight_flow_reaches_the_data_exactly(num_steps: int) -> None:
    """For one data point a the flow field is v(x, t) = (a - x) / (1 - t): Euler is exact."""
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(2, 16, 5, generator=gen, dtype=torch.float64)
    noise = torch.randn(2, 16, 5, generator=gen, dtype=torch.float64)
    calls: list[list[int]] = []

    def velocity(x: torch.Tensor, t_bucket: torch.Tensor) -> torch.Tensor:
        calls.append(t_bucket.tolist())
        t = t_bucket.to(torch.float64) / 1000
        return (target - x) / (1 - t)[:, None, None]

    out = euler_integrate(velocity, noise, num_steps)
    torch.testing.assert_close(out, target, atol=1e-12, rtol=0)
    assert calls == [[time_bucket(k, num_steps)] * 2 for k in range(num_steps)]


def test_euler_on_time_linear_field_is_the_riemann_sum() -> None:
    noise = torch.zeros(1, 2, 1, dtype=torch.float64)

    def velocity(x: torch.Tensor, t_bucket: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x) * (1.0 + 2.0 * t_bucket.to(torch.float64)[:, None, None] / 1000)

    out = euler_integrate(velocity, noise, 4)
    # sum_k (1 + 2 k / 4) / 4 = 1 + 2 * (0 + 1 + 2 + 3) / 16
    torch.testing.assert_close(out, torch.full_like(noise, 1.0 + 12 / 16))
    with pytest.raises(ValueError, match="num_steps"):
        euler_integrate(velocity, noise, 0)
