"""System 1: the GR00T N1 flow-matching action head.

Reads top to bottom: embodiment-specific layers, time embeddings, the DiT blocks, the DiT,
then `FlowMatchingActionHead`. Module names mirror the official GR00T-N1-2B state dict
(`action_head.model.*`, `action_head.state_encoder.*`, ...), so both checkpoints load.

Token sequence fed to the DiT: [state token; H action tokens]. Even DiT blocks cross-attend
to the backbone tokens (padded tokens masked), odd blocks self-attend. The flow-matching time
convention (t = 0 noise, t = 1 data) is stated once in `gr00t_policy.flow_matching`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from gr00t_policy.action_head_config import ActionHeadConfig
from gr00t_policy.flow_matching import (
    discretize,
    euler_integrate,
    guided_euler_integrate,
    interpolate,
    prefix_euler_integrate,
    prefix_rows_mask,
    sample_time,
    target_velocity,
)

# Additive attention bias on padded backbone tokens. Finite and fp16-safe (|x| < 65504), and
# so large that exp() of it underflows to exactly 0 in float32 and float16.
MASK_BIAS = -30000.0


# ---------------------------------------------------------------------------------------------
# Embodiment-specific layers
# ---------------------------------------------------------------------------------------------


class CategorySpecificLinear(nn.Module):
    """A linear layer with one weight matrix per embodiment slot: y = x @ W[id] + b[id]."""

    def __init__(self, num_categories: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.empty(num_categories, in_features, out_features))
        self.b = nn.Parameter(torch.empty(num_categories, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.W.is_meta:
            return
        bound = 1.0 / math.sqrt(self.W.shape[1])
        nn.init.uniform_(self.W, -bound, bound)
        nn.init.uniform_(self.b, -bound, bound)

    def forward(self, x: torch.Tensor, category_ids: torch.Tensor) -> torch.Tensor:
        weight = self.W[category_ids]  # (B, in, out)
        bias = self.b[category_ids]  # (B, out)
        return torch.bmm(x, weight) + bias.unsqueeze(1)  # (B, T, out)


class CategorySpecificMLP(nn.Module):
    """layer2(relu(layer1(x))) with embodiment-specific weights."""

    def __init__(self, num_categories: int, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.layer1 = CategorySpecificLinear(num_categories, in_dim, hidden_dim)
        self.layer2 = CategorySpecificLinear(num_categories, hidden_dim, out_dim)

    def forward(self, x: torch.Tensor, category_ids: torch.Tensor) -> torch.Tensor:
        hidden = F.relu(self.layer1(x, category_ids))  # (B, T, hidden)
        return self.layer2(hidden, category_ids)  # (B, T, out)


def sinusoidal_encoding(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """[sin | cos] encoding of (B, T) timesteps, freqs exp(-i * ln(10000) / (dim / 2))."""
    half = dim // 2
    exponent = -torch.arange(half, dtype=torch.float32, device=timesteps.device) * (
        math.log(10000.0) / half
    )  # (half,)
    angles = timesteps.to(torch.float32).unsqueeze(-1) * torch.exp(exponent)  # (B, T, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # (B, T, dim)


class MultiEmbodimentActionEncoder(nn.Module):
    """Noisy action chunk + time bucket -> action tokens: W3(swish(W2([W1(a), tau(t)]))).

    The bucket is one per sample (B,) or one per action token (B, H) (prefix conditioning:
    given rows carry the bucket of clean data)."""

    def __init__(self, num_categories: int, action_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.W1 = CategorySpecificLinear(num_categories, action_dim, embed_dim)
        self.W2 = CategorySpecificLinear(num_categories, 2 * embed_dim, embed_dim)
        self.W3 = CategorySpecificLinear(num_categories, embed_dim, embed_dim)

    def forward(
        self, actions: torch.Tensor, t_bucket: torch.Tensor, category_ids: torch.Tensor
    ) -> torch.Tensor:
        batch, horizon, _ = actions.shape
        a_emb = self.W1(actions, category_ids)  # (B, H, E)
        buckets = t_bucket if t_bucket.dim() == 2 else t_bucket.unsqueeze(1).expand(batch, horizon)
        tau = sinusoidal_encoding(buckets, self.embed_dim)  # (B, H, E)
        x = torch.cat([a_emb, tau.to(a_emb.dtype)], dim=-1)  # (B, H, 2E)
        x = F.silu(self.W2(x, category_ids))  # (B, H, E)
        return self.W3(x, category_ids)  # (B, H, E)


# ---------------------------------------------------------------------------------------------
# DiT building blocks
# ---------------------------------------------------------------------------------------------


def timestep_projection(t_bucket: torch.Tensor, channels: int) -> torch.Tensor:
    """Sinusoidal projection of (B,) time buckets, cos half first (flip_sin_to_cos).

    Frequencies exp(-ln(10000) * i / (half - 1)) (downscale_freq_shift = 1).
    """
    half = channels // 2
    exponent = -math.log(10000.0) * torch.arange(
        half, dtype=torch.float32, device=t_bucket.device
    ) / (half - 1)  # (half,)
    angles = t_bucket.to(torch.float32).unsqueeze(1) * torch.exp(exponent).unsqueeze(0)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)  # (B, channels)


class TimestepEmbedding(nn.Module):
    """linear_2(silu(linear_1(x)))."""

    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))  # (B, dim)


class TimestepEncoder(nn.Module):
    """Time bucket -> DiT conditioning vector temb."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.channels = channels
        self.timestep_embedder = TimestepEmbedding(channels, dim)

    def forward(self, t_bucket: torch.Tensor) -> torch.Tensor:
        proj = timestep_projection(t_bucket, self.channels)  # (B, channels)
        return self.timestep_embedder(proj.to(self.timestep_embedder.linear_1.weight.dtype))


class AdaLayerNorm(nn.Module):
    """LayerNorm (no affine) modulated by temb: norm(x) * (1 + scale) + shift."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(F.silu(temb)).chunk(2, dim=-1)  # (B, D) each
        return self.norm(x) * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)  # (B, T, D)


class Attention(nn.Module):
    """Multi-head attention; keys/values may come precomputed (cross-attention)."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, kv_dim: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.to_q = nn.Linear(dim, num_heads * head_dim)
        self.to_k = nn.Linear(kv_dim, num_heads * head_dim)
        self.to_v = nn.Linear(kv_dim, num_heads * head_dim)
        self.to_out = nn.ModuleList([nn.Linear(num_heads * head_dim, dim)])

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, L, d)

    def project_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L, kv_dim) -> keys, values, each (B, heads, L, head_dim)."""
        return self.split_heads(self.to_k(context)), self.split_heads(self.to_v(context))

    def forward(
        self,
        x: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, length, _ = x.shape
        q = self.split_heads(self.to_q(x))  # (B, h, T, d)
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=bias)  # (B, h, T, d)
        out = out.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.to_out[0](out)  # (B, T, D)


class GELUProj(nn.Module):
    """gelu_tanh(proj(x))."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    """net.2(gelu_tanh(net.0.proj(x))); net.1 is an (identity) dropout slot for key parity."""

    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        self.net = nn.ModuleList([GELUProj(dim, mult * dim), nn.Identity(), nn.Linear(mult * dim, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x  # (B, T, D)


class TransformerBlock(nn.Module):
    """AdaLN -> attention (cross or self) -> residual -> LayerNorm -> FF -> residual."""

    def __init__(self, cfg: ActionHeadConfig, cross_attention: bool) -> None:
        super().__init__()
        dim = cfg.input_embedding_dim
        self.cross_attention = cross_attention
        kv_dim = cfg.cross_attention_dim if cross_attention else dim
        self.norm1 = AdaLayerNorm(dim)
        self.attn1 = Attention(dim, cfg.num_heads, cfg.head_dim, kv_dim)
        self.norm3 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=False)
        self.ff = FeedForward(dim, cfg.ff_mult)

    def forward(
        self,
        x: torch.Tensor,
        temb: torch.Tensor,
        kv: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """kv = (keys, values, bias) of the backbone tokens on cross-attention blocks."""
        h = self.norm1(x, temb)  # (B, T, D)
        if self.cross_attention:
            if kv is None:
                raise ValueError("cross-attention block needs the conditioning keys/values")
            keys, values, bias = kv
        else:
            keys, values = self.attn1.project_kv(h)  # (B, h, T, d)
            bias = None
        x = x + self.attn1(h, keys, values, bias)  # (B, T, D)
        return x + self.ff(self.norm3(x))  # (B, T, D)


class Conditioning(NamedTuple):
    """Backbone tokens projected to keys/values for every cross-attention block, once.

    keys, values: (N_cross, B, heads, L, head_dim); bias: (B, 1, 1, L), 0 on real tokens and
    MASK_BIAS on padded ones.
    """

    keys: torch.Tensor
    values: torch.Tensor
    bias: torch.Tensor


class DiT(nn.Module):
    """Diffusion transformer over [state; actions] tokens, conditioned on time and backbone."""

    def __init__(self, cfg: ActionHeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.input_embedding_dim
        self.timestep_encoder = TimestepEncoder(cfg.timestep_channels, dim)
        self.transformer_blocks = nn.ModuleList(
            [TransformerBlock(cfg, cfg.is_cross_attention_block(i)) for i in range(cfg.num_layers)]
        )
        self.norm_out = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=False)
        self.proj_out_1 = nn.Linear(dim, 2 * dim)
        self.proj_out_2 = nn.Linear(dim, cfg.hidden_size)

    def encode_conditioning(self, features: torch.Tensor, mask: torch.Tensor) -> Conditioning:
        """features (B, L, C), mask (B, L) bool (True = real token) -> `Conditioning`."""
        keys, values = [], []
        for block in self.transformer_blocks:
            if block.cross_attention:
                k, v = block.attn1.project_kv(features)  # (B, h, L, d)
                keys.append(k)
                values.append(v)
        zero = torch.zeros((), dtype=features.dtype, device=features.device)
        masked = torch.full((), MASK_BIAS, dtype=features.dtype, device=features.device)
        bias = torch.where(mask.to(torch.bool), zero, masked)[:, None, None, :]  # (B, 1, 1, L)
        return Conditioning(torch.stack(keys), torch.stack(values), bias)

    def forward(self, x: torch.Tensor, t_bucket: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """x (B, T, D), t_bucket (B,) long -> (B, T, hidden_size)."""
        temb = self.timestep_encoder(t_bucket)  # (B, D)
        cross_index = 0
        for block in self.transformer_blocks:
            if block.cross_attention:
                kv = (cond.keys[cross_index], cond.values[cross_index], cond.bias)
                cross_index += 1
                x = block(x, temb, kv)  # (B, T, D)
            else:
                x = block(x, temb)  # (B, T, D)
        shift, scale = self.proj_out_1(F.silu(temb)).chunk(2, dim=-1)  # (B, D) each
        x = self.norm_out(x) * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)  # (B, T, D)
        return self.proj_out_2(x)  # (B, T, hidden_size)


# ---------------------------------------------------------------------------------------------
# The action head
# ---------------------------------------------------------------------------------------------


class FlowMatchingActionHead(nn.Module):
    """GR00T N1 System 1: embodiment-specific encoders/decoder around the DiT."""

    def __init__(self, cfg: ActionHeadConfig) -> None:
        super().__init__()
        if not isinstance(cfg, ActionHeadConfig):
            raise ValueError(f"FlowMatchingActionHead needs an ActionHeadConfig, got {type(cfg)}")
        self.config = cfg
        emb = cfg.input_embedding_dim
        self.model = DiT(cfg)
        self.state_encoder = CategorySpecificMLP(
            cfg.num_embodiments, cfg.max_state_dim, cfg.hidden_size, emb
        )
        self.action_encoder = MultiEmbodimentActionEncoder(
            cfg.num_embodiments, cfg.max_action_dim, emb
        )
        self.action_decoder = CategorySpecificMLP(
            cfg.num_embodiments, cfg.hidden_size, cfg.hidden_size, cfg.max_action_dim
        )
        self.position_embedding = nn.Embedding(cfg.max_seq_len, emb)

    # -- checks --------------------------------------------------------------------------------

    def _check_last_dim(self, name: str, tensor: torch.Tensor, dim: int, field: str) -> None:
        if tensor.shape[-1] != dim:
            raise ValueError(
                f"{name} has last dim {tensor.shape[-1]} but ActionHeadConfig.{field} = {dim}; "
                f"zero-pad it to {dim}"
            )

    def _check_embodiment(self, embodiment_id: torch.Tensor) -> None:
        if embodiment_id.numel() and not bool(
            ((embodiment_id >= 0) & (embodiment_id < self.config.num_embodiments)).all()
        ):
            raise ValueError(
                f"embodiment_id {embodiment_id.tolist()} out of range [0, "
                f"{self.config.num_embodiments}) (ActionHeadConfig.num_embodiments)"
            )

    # -- the pieces ----------------------------------------------------------------------------

    def encode_conditioning(self, features: torch.Tensor, mask: torch.Tensor) -> Conditioning:
        """Backbone tokens (B, L, C) and mask (B, L) bool -> K/V for all cross blocks, once."""
        self._check_last_dim("features", features, self.config.cross_attention_dim,
                             "cross_attention_dim")
        if mask.shape != features.shape[:2]:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} must equal features' (B, L) = "
                f"{tuple(features.shape[:2])}"
            )
        return self.model.encode_conditioning(features, mask)

    def encode_state(self, state: torch.Tensor, embodiment_id: torch.Tensor) -> torch.Tensor:
        """Padded state (B, 1, S_max) -> state token (B, 1, input_embedding_dim)."""
        self._check_last_dim("state", state, self.config.max_state_dim, "max_state_dim")
        return self.state_encoder(state, embodiment_id)  # (B, 1, E)

    def velocity(
        self,
        x: torch.Tensor,
        t_bucket: torch.Tensor,
        state_features: torch.Tensor,
        cond: Conditioning,
        embodiment_id: torch.Tensor,
        token_bucket: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One denoising step: the predicted velocity of noisy actions x (B, H, A_max).

        `t_bucket` (B,) conditions the DiT; the action tokens take `token_bucket` (B, H)
        when given (prefix conditioning), else `t_bucket`. This is the pure function
        exported to ONNX / compiled by TensorRT.
        """
        horizon = x.shape[1]
        per_token = t_bucket if token_bucket is None else token_bucket
        action_tokens = self.action_encoder(x, per_token, embodiment_id)  # (B, H, E)
        action_tokens = action_tokens + self.position_embedding.weight[:horizon].unsqueeze(0)
        tokens = torch.cat([state_features, action_tokens], dim=1)  # (B, 1 + H, E)
        out = self.model(tokens, t_bucket, cond)  # (B, 1 + H, hidden)
        pred = self.action_decoder(out, embodiment_id)  # (B, 1 + H, A_max)
        return pred[:, -horizon:]  # (B, H, A_max)

    def sample_from_conditioning(
        self,
        cond: Conditioning,
        state: torch.Tensor,
        embodiment_id: torch.Tensor,
        noise: torch.Tensor,
        num_steps: int | None = None,
    ) -> torch.Tensor:
        """Euler-integrate from `noise` (B, H, A_max) with precomputed `cond` -> actions."""
        steps = self.config.num_inference_steps if num_steps is None else num_steps
        self._check_last_dim("noise", noise, self.config.max_action_dim, "max_action_dim")
        if noise.shape[1] > self.config.max_seq_len:
            raise ValueError(
                f"noise horizon {noise.shape[1]} exceeds ActionHeadConfig.max_seq_len = "
                f"{self.config.max_seq_len}"
            )
        state_features = self.encode_state(state, embodiment_id)  # (B, 1, E)

        def velocity_fn(x: torch.Tensor, t_bucket: torch.Tensor) -> torch.Tensor:
            return self.velocity(x, t_bucket, state_features, cond, embodiment_id)

        return euler_integrate(velocity_fn, noise, steps, self.config.num_timestep_buckets)

    def sample_guided_from_conditioning(
        self,
        cond: Conditioning,
        state: torch.Tensor,
        embodiment_id: torch.Tensor,
        noise: torch.Tensor,
        target: torch.Tensor,
        weights: torch.Tensor,
        beta: torch.Tensor | float,
        num_steps: int | None = None,
    ) -> torch.Tensor:
        """`sample_from_conditioning` guided towards `target` (B, H, A_max) with `weights`
        (B, H, A_max) and clip `beta` (`flow_matching.guided_euler_integrate`): real-time
        chunking's inpainting. Needs autograd: never call it under torch.inference_mode."""
        steps = self.config.num_inference_steps if num_steps is None else num_steps
        self._check_last_dim("noise", noise, self.config.max_action_dim, "max_action_dim")
        if target.shape != noise.shape:
            raise ValueError(f"target shape {tuple(target.shape)} must equal noise shape "
                             f"{tuple(noise.shape)}")
        state_features = self.encode_state(state, embodiment_id)  # (B, 1, E)

        def velocity_fn(x: torch.Tensor, t_bucket: torch.Tensor) -> torch.Tensor:
            return self.velocity(x, t_bucket, state_features, cond, embodiment_id)

        return guided_euler_integrate(velocity_fn, noise, steps, target, weights, beta,
                                      self.config.num_timestep_buckets)

    def sample_prefix_from_conditioning(
        self,
        cond: Conditioning,
        state: torch.Tensor,
        embodiment_id: torch.Tensor,
        noise: torch.Tensor,
        prefix: torch.Tensor,
        given: torch.Tensor,
        num_steps: int | None = None,
    ) -> torch.Tensor:
        """`sample_from_conditioning` with the rows where `given` (B, H) bool is True held at
        `prefix` (B, H, A_max) (`flow_matching.prefix_euler_integrate`): real-time chunking
        by prefix conditioning, for a head trained so (`ActionHeadConfig.prefix_rows`)."""
        steps = self.config.num_inference_steps if num_steps is None else num_steps
        self._check_last_dim("noise", noise, self.config.max_action_dim, "max_action_dim")
        if prefix.shape != noise.shape:
            raise ValueError(f"prefix shape {tuple(prefix.shape)} must equal noise shape "
                             f"{tuple(noise.shape)}")
        state_features = self.encode_state(state, embodiment_id)  # (B, 1, E)

        def velocity_fn(x: torch.Tensor, t_bucket: torch.Tensor,
                        token_bucket: torch.Tensor) -> torch.Tensor:
            return self.velocity(x, t_bucket, state_features, cond, embodiment_id, token_bucket)

        return prefix_euler_integrate(velocity_fn, noise, steps, prefix, given,
                                      self.config.num_timestep_buckets)

    @torch.no_grad()
    def sample(
        self,
        features: torch.Tensor,
        mask: torch.Tensor,
        state: torch.Tensor,
        embodiment_id: torch.Tensor,
        noise: torch.Tensor,
        num_steps: int | None = None,
    ) -> torch.Tensor:
        """Actions (B, H, A_max) (normalized, padded) from backbone tokens, state and noise."""
        self._check_embodiment(embodiment_id)
        cond = self.encode_conditioning(features, mask)
        return self.sample_from_conditioning(cond, state, embodiment_id, noise, num_steps)

    def draw_noise_and_time(self, actions: torch.Tensor, generator: torch.Generator | None = None,
                            noise: torch.Tensor | None = None, t: torch.Tensor | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        """The flow noise (B, H, A_max) ~ N(0, I) and flow times (B,) of :meth:`loss`: each one
        not given is drawn from `generator`, noise first (a trainer that splits a batch across
        processes draws them for the whole batch first)."""
        cfg = self.config
        if noise is None:
            noise = torch.randn(actions.shape, generator=generator, device=actions.device,
                                dtype=actions.dtype)
        if t is None:
            t = sample_time(actions.shape[0], generator, cfg.noise_beta_alpha,
                            cfg.noise_beta_beta, cfg.noise_s, device=actions.device,
                            dtype=actions.dtype)
        return noise, t

    def loss(
        self,
        features: torch.Tensor,
        mask: torch.Tensor,
        state: torch.Tensor,
        actions: torch.Tensor,
        action_mask: torch.Tensor,
        embodiment_id: torch.Tensor,
        noise: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        prefix_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Masked flow-matching MSE: sum((v - (actions - noise))^2 * action_mask) / sum(mask).

        Args:
            features, mask: backbone tokens (B, L, C) and their mask (B, L) bool.
            state: (B, 1, S_max) padded, normalized state.
            actions: (B, H, A_max) padded, normalized action chunk.
            action_mask: (B, H, A_max), 1 on real action entries.
            embodiment_id: (B,) long slots.
            noise: (B, H, A_max); N(0, I) drawn with `generator` when None.
            t: (B,) flow times; sampled t = (s - u) / s, u ~ Beta when None.
            generator: optional RNG for noise and t.
            prefix_rows: (B,) long, optional: the first d rows of each sample are given
                (prefix conditioning, `gr00t_policy.flow_matching`): clean, at the bucket of
                t = 1, and left out of the loss. None or 0: plain flow matching.
        """
        cfg = self.config
        self._check_last_dim("actions", actions, cfg.max_action_dim, "max_action_dim")
        if action_mask.shape != actions.shape:
            raise ValueError(
                f"action_mask shape {tuple(action_mask.shape)} must equal actions shape "
                f"{tuple(actions.shape)}"
            )
        self._check_embodiment(embodiment_id)
        noise, t = self.draw_noise_and_time(actions, generator, noise, t)
        x_t = interpolate(noise, actions, t)  # (B, H, A)
        target = target_velocity(noise, actions)  # (B, H, A)
        t_bucket = discretize(t, cfg.num_timestep_buckets)  # (B,)
        token_bucket = None
        weight = action_mask
        if prefix_rows is not None:
            given = prefix_rows_mask(prefix_rows, actions.shape[1])  # (B, H)
            x_t = torch.where(given.unsqueeze(-1), actions, x_t)
            token_bucket = torch.where(given, cfg.num_timestep_buckets, t_bucket.unsqueeze(1))
            weight = weight * (~given).unsqueeze(-1).to(weight.dtype)
        cond = self.encode_conditioning(features, mask)
        state_features = self.encode_state(state, embodiment_id)  # (B, 1, E)
        pred = self.velocity(x_t, t_bucket, state_features, cond, embodiment_id,
                             token_bucket)  # (B, H, A)
        weight = weight.to(pred.dtype)
        return ((pred - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)
