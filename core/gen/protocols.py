"""The contracts of the networks a family is built from (DESIGN.md, "Contracts").

They are structural (`typing.Protocol`), so any `nn.Module` with the right attributes satisfies
them without inheriting from gen; ``isinstance`` checks the attributes at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@runtime_checkable
class Generator(Protocol):
    """Maps latents ``z`` of shape (N, latent_dim) (and labels, when conditional) to images in
    [-1, 1] of shape (N, C, H, W)."""

    latent_dim: int
    num_classes: int | None

    def __call__(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class Discriminator(Protocol):
    """Scores images (N, C, H, W) with one real-valued logit each, shape (N,). An auxiliary
    classifier discriminator returns ``(scores, class_logits)``."""

    num_classes: int | None

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class DensityModel(Protocol):
    """A model with a likelihood: ``log_prob`` is per example, in nats (exact, or a documented
    lower bound); ``sample`` draws images in [-1, 1]."""

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor: ...

    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor: ...
