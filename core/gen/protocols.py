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


@runtime_checkable
class LatentVariableModel(Protocol):
    """A model with an encoder q(z|x) and a decoder p(x|z) (a VAE). Images are in [-1, 1]."""

    latent_dim: int

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean, shape (N, latent_dim): the features `gen encode` writes."""
        ...

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images for latents ``z``: the mean (or most likely value) of p(x|z)."""
        ...

    def iw_log_prob(
        self, x: torch.Tensor, y: torch.Tensor | None = None, samples: int = 1000
    ) -> torch.Tensor:
        """The importance-weighted estimate of log p(x) per image in nats (Burda et al. 2016)
        with ``samples`` draws from q(z|x); equals the ELBO in expectation for 1 sample."""
        ...
