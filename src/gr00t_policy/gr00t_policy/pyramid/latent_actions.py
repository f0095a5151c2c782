"""A latent action model: actions named by what they do to the picture.

As in LAPA (Ye et al., arXiv 2410.11758), an inverse-dynamics encoder reads a frame pair
``(o_t, o_{t+k})`` and its output is quantized; a forward model must predict ``o_{t+k}``
from ``o_t`` and that code alone, so the code has to carry what moved. The quantized vector
is then the "action" of video that has none (GR00T N1 co-trains such video as a latent
embodiment of its own).

Choices, ours:
- The quantizer is finite scalar quantization (FSQ, Mentzer et al., arXiv 2309.15505): each
  of ``latent_dim`` numbers is squashed into ``levels`` values, an implicit codebook of
  ``levels ** latent_dim`` codes (5^6 = 15625 by default). A learned codebook (LAPA's VQ-VAE)
  collapsed onto one vector in our first trials, so the decoder learned to ignore it; FSQ has
  no codebook to collapse and no auxiliary losses. The latent action is the quantized vector,
  each number in [-1, 1].
- The forward model predicts the change from ``o_t``, so the static scene costs it nothing,
  and its error weighs ``motion_weight`` times more on pixels that moved, in the recording or
  in its prediction: the moving arm is a few percent of the picture, and a model that blurs
  it, or moves it the wrong way, is what the code must fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gr00t_policy.pyramid.clips import Clips, draw_pairs, later_index, pair_tensors
from gr00t_policy.pyramid.nets import ConvEncoder, fit, load_typed, save_typed

KIND = "latent_action_model"
MOVED = 0.1  # a pixel moved when a channel changed by more than this (of 1)


@dataclass(frozen=True)
class LatentActionConfig:
    image_size: int = 64
    gap: int = 5  # frames between o_t and o_{t+k}: 0.25 s at 20 fps
    latent_dim: int = 6
    levels: int = 5  # odd: 0 is a level
    width: int = 32
    motion_weight: float = 20.0


def motion_mask(first: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
    """(B, 1, S, S) bool: where any of `others` differs from `first` by more than MOVED."""
    moved = torch.zeros_like(first[:, :1], dtype=torch.bool)
    for o in others:
        moved |= (o - first).abs().amax(dim=1, keepdim=True) > MOVED
    return moved


class LatentActionModel(nn.Module):
    def __init__(self, cfg: LatentActionConfig) -> None:
        super().__init__()
        if cfg.image_size % 8:
            raise ValueError(f"image_size must be a multiple of 8, got {cfg.image_size}")
        if cfg.levels < 3 or cfg.levels % 2 == 0:
            raise ValueError(f"levels must be odd and >= 3, got {cfg.levels}")
        self.cfg = cfg
        w, cells = cfg.width, (cfg.image_size // 8) ** 2
        self.idm = ConvEncoder(6, w)
        self.to_latent = nn.Linear(4 * w * cells, cfg.latent_dim)
        self.fdm = ConvEncoder(3, w)
        self.from_latent = nn.Linear(cfg.latent_dim, 4 * w)
        self.decode = nn.Sequential(
            nn.ConvTranspose2d(8 * w, 2 * w, 4, 2, 1), nn.GELU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.GELU(),
            nn.ConvTranspose2d(w, 3, 4, 2, 1),
        )

    def encode(self, first: torch.Tensor, later: torch.Tensor) -> torch.Tensor:
        """Quantized latent actions (B, latent_dim) in [-1, 1] of frame pairs in [0, 1]
        (straight-through: gradients pass the rounding)."""
        half = (self.cfg.levels - 1) / 2
        z = torch.tanh(self.to_latent(self.idm(torch.cat([first, later], dim=1) - 0.5).flatten(1)))
        q = torch.round(z * half) / half
        return z + (q - z).detach()

    def predict(self, first: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """The forward model: o_{t+k} from o_t and a latent action."""
        h = self.fdm(first - 0.5)
        a = self.from_latent(latent)[:, :, None, None].expand(-1, -1, *h.shape[-2:])
        return first + self.decode(torch.cat([h, a], dim=1))

    def loss(self, first: torch.Tensor, later: torch.Tensor) -> torch.Tensor:
        pred = self.predict(first, self.encode(first, later))
        weight = 1.0 + (self.cfg.motion_weight - 1.0) * motion_mask(
            first, later, pred.detach()).float()
        return (weight * (pred - later) ** 2).mean() / weight.mean()

    @torch.no_grad()
    def latents(self, first: torch.Tensor, later: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes (B,) long, latent actions (B, latent_dim)) of frame pairs."""
        q = self.encode(first, later)
        digits = torch.round((q + 1) * (self.cfg.levels - 1) / 2).long()  # (B, D) in [0, L)
        radix = self.cfg.levels ** torch.arange(self.cfg.latent_dim)
        return (digits * radix).sum(-1), q


def train_latent_actions(clips: Clips, cfg: LatentActionConfig, *, steps: int, batch: int,
                         lr: float, seed: int, log_every: int = 100) -> tuple[
                             LatentActionModel, list[dict[str, float]]]:
    """Train on frame pairs of `clips` (their labels are not read)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = LatentActionModel(cfg)

    def batch_loss() -> torch.Tensor:
        return model.loss(*pair_tensors(clips, *draw_pairs(clips, rng, batch), cfg.gap))

    log = fit(model, batch_loss, steps=steps, lr=lr, name="lam", log_every=log_every)
    return model, log


@torch.no_grad()
def forward_errors(model: LatentActionModel, clips: Clips, pairs: int, seed: int
                   ) -> dict[str, float]:
    """On `pairs` frame pairs, the forward model's squared error per pair (summed over
    pixels) with the pair's own latent action, with another pair's (what the code carries),
    with none (zeros), and of copying o_t; plus how many distinct codes the pairs got."""
    rng = np.random.default_rng(seed)
    first, later = pair_tensors(clips, *draw_pairs(clips, rng, pairs), model.cfg.gap)
    codes, latent = model.latents(first, later)
    shuffled = latent[torch.from_numpy(rng.permutation(pairs))]
    out: dict[str, float] = {"pairs": pairs, "distinct_codes": int(codes.unique().numel())}
    for name, pred in (("own_code", model.predict(first, latent)),
                       ("other_code", model.predict(first, shuffled)),
                       ("no_code", model.predict(first, torch.zeros_like(latent))),
                       ("copy", first)):
        out[f"{name}_error"] = float(((pred - later) ** 2).flatten(1).sum(1).mean())
    return out


def motion_probe(model: LatentActionModel, fit_clips: Clips, check: Clips, pairs: int, seed: int,
                 steps: int = 1500) -> dict[str, float]:
    """How much of the robot's recorded motion the latent actions carry: a small MLP from a
    pair's latent action and o_t's state to the state change over the pair, fitted on
    `fit_clips`' pairs (stopped early on a fifth of them) and scored on `check`'s as R^2 against `fit_clips`' mean change (1: all
    of it; 0: no better than that mean),
    beside the same MLP from the state alone. (A code means "this change of the picture",
    which depends on where the arm is, hence a nonlinear map with the state.)"""
    rng = np.random.default_rng(seed)
    gap = model.cfg.gap

    @torch.no_grad()
    def table(clips: Clips) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        eps, ts = draw_pairs(clips, rng, pairs)
        latent = model.latents(*pair_tensors(clips, eps, ts, gap))[1]
        now = np.stack([clips.states[e][t] for e, t in zip(eps, ts)])
        later = np.stack([clips.states[e][later_index(t, gap, len(clips.states[e]))]
                          for e, t in zip(eps, ts)])
        return latent, torch.from_numpy(now), torch.from_numpy(later - now)

    lf, sf, yf = table(fit_clips)
    lc, sc, yc = table(check)
    # Floors: joints that barely move in `fit` (fingers) must not blow up `check`'s inputs.
    s_mean, s_std = sf.mean(0), sf.std(0).clamp_min(1e-2)
    y_mean, y_std = yf.mean(0), yf.std(0).clamp_min(1e-3)

    def r2(x_fit: torch.Tensor, x_check: torch.Tensor) -> float:
        torch.manual_seed(seed)
        mlp = nn.Sequential(nn.Linear(x_fit.shape[1], 128), nn.GELU(), nn.Linear(128, 128),
                            nn.GELU(), nn.Linear(128, yf.shape[1]))
        optim = torch.optim.Adam(mlp.parameters(), lr=3e-3)
        target = (yf - y_mean) / y_std
        cut = int(0.8 * len(x_fit))  # the last fifth of `fit` stops the fit before it overfits
        best, kept = float("inf"), None
        for step in range(steps):
            loss = ((mlp(x_fit[:cut]) - target[:cut]) ** 2).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
            if step % 25 == 0:
                with torch.no_grad():
                    held = float(((mlp(x_fit[cut:]) - target[cut:]) ** 2).mean())
                if held < best:
                    best, kept = held, {k: v.clone() for k, v in mlp.state_dict().items()}
        if kept is not None:
            mlp.load_state_dict(kept)
        with torch.no_grad():
            pred = mlp(x_check) * y_std + y_mean
        return float(1 - ((pred - yc) ** 2).sum() / ((yc - y_mean) ** 2).sum())

    nf, nc = (sf - s_mean) / s_std, (sc - s_mean) / s_std
    return {"latent_and_state_r2": r2(torch.cat([lf, nf], 1), torch.cat([lc, nc], 1)),
            "state_only_r2": r2(nf, nc), "pairs": pairs}


def save_latent_actions(out, model: LatentActionModel, extra: dict) -> None:
    save_typed(out, model, KIND, extra)


def load_latent_actions(path) -> LatentActionModel:
    return load_typed(path, KIND, lambda config: LatentActionModel(LatentActionConfig(**config)))
