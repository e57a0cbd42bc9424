"""The family contract: what a registered model class is and does.

A family builds its networks and optimizers from its spec, owns one training step (one call =
one optimisation step of the whole model, e.g. n_critic critic updates and one generator update)
and samples images. The core owns everything around it: devices, data, the loop, checkpoints.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from gen.data.batch import NextBatch
from gen.data.info import DataInfo
from gen.ema import WeightAverage
from gen.runtime import Runtime
from gen.specs import EMASpec, ModelSpec


class Model(abc.ABC):
    """Base class of every family. Subclasses fill ``self.modules`` and ``self.optimizers`` in
    ``__init__``; everything in them is moved to the device and saved in checkpoints. Each
    update goes through `optimize`, which the core's runtime turns into mixed-precision and
    multi-process updates.

    ``likelihood`` says what ``log_prob(x, y=None)`` (per image, in nats, of the discrete image:
    256 bins per sub-pixel, 2 for binary data) returns, if the family has one: ``"exact"``
    (autoregressive models) or ``"lower-bound"`` (a VAE's ELBO, a dequantised flow), which may
    add ``iw_log_prob`` for an importance-weighted estimate; ``likelihood_estimator`` names it.
    What gen offers a model follows from the methods it implements (`gen.capabilities`); the
    whole contract is in docs/plugins.md.
    ``eager_modules`` names the modules ``train.compile`` must not compile.
    """

    likelihood: ClassVar[Literal["exact", "lower-bound"] | None] = None
    # What ``log_prob`` computes, in a few words, printed with every nll it gives (e.g.
    # "uniform dequantisation, one draw per image"); None reads as "exact" or "lower bound".
    likelihood_estimator: ClassVar[str | None] = None
    # The draws K of ``iw_log_prob`` that `gen evaluate --metrics nll` takes unless told
    # (--iw-samples): each is a pass of the network per image, so a model whose bound is
    # nearly tight at one draw (a dequantised flow) says so here. None: gen's 1000, for a
    # VAE, whose ELBO may lie nats below log p(x) (Burda et al. 2016).
    default_iw_samples: ClassVar[int | None] = None
    # Modules `train.compile` leaves eager: those torch.compile cannot train (a network
    # differentiated twice, say).
    eager_modules: ClassVar[frozenset[str]] = frozenset()
    # The modules `sample` (and ``log_prob``) run, which ``train.ema`` averages; None: every
    # module (an adversarial model samples with its generator only).
    sample_modules: ClassVar[tuple[str, ...] | None] = None
    # The samplers ``sample(..., sampler=NAME)`` accepts, each with the options it takes of
    # "steps" and "eta" (e.g. {"ancestral": ("steps",), "ddim": ("steps", "eta")}): an
    # iterative model's sampler is chosen at sample time (`gen sample --sampler`). Empty for a
    # model that draws in one pass (a GAN, a VAE, a flow).
    samplers: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # Whether `gen sample --truncation` may resample the elements of ``latent(n)`` beyond a
    # threshold: True only where every element of the latent is i.i.d. N(0, 1) (a GAN's z, a
    # VAE's prior, a flow's base noise), never for one-hot or uniform codes. A model "has a
    # latent" when it implements ``latent(n, generator=None)`` and ``generate(z, labels=None)``
    # (docs/plugins.md); this says nothing without them.
    truncatable_latent: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec, data: DataInfo):
        self.spec = spec
        self.data = data
        self.device = torch.device("cpu")
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.runtime = Runtime()
        # The core's weight average (``train.ema``), set by the trainer or by a checkpoint
        # that has one; `weights` says which weights the live modules hold.
        self.average: WeightAverage | None = None
        self.weights: Literal["live", "ema"] = "live"

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Minimise ``loss`` by one step of ``self.optimizers[name]``: zero the gradients,
        backward, then step. Call this rather than ``backward()``/``step()``: the trainer's
        runtime adds loss scaling (fp16) and averages gradients over processes here."""
        self.runtime.optimize(name, self.optimizers[name], loss)

    @abc.abstractmethod
    def train_step(self, next_batch: NextBatch) -> dict[str, torch.Tensor]:
        """One optimisation step of the whole model; returns detached scalar losses by name.

        Values stay tensors so the loop converts them (and syncs the device) only when it logs.
        """

    @abc.abstractmethod
    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` images in [-1, 1], shape (n, C, H, W). Draws randomness only from
        ``generator`` (when given) so sampling never disturbs the training RNG stream."""

    def sampling_defaults(self) -> dict[str, Any]:
        """What `sample` uses for each sampling option it is not given (e.g. ``{"sampler":
        "ddim", "steps": 50, "eta": 0.0, "guidance": 1.0}``, from the spec), so a record can
        state the settings its images were drawn with. Empty for a one-pass model."""
        return {}

    def network_calls(self, task: Literal["sample", "log_prob"], **options: Any) -> int | None:
        """Network evaluations per image of ``task`` with these sampling options (e.g. ``steps``
        for a DDIM sample, twice that with guidance; T for a diffusion bound), so `gen
        evaluate` can state the cost of an iterative model before it starts. None: one pass."""
        return None

    @property
    def min_batch_size(self) -> int:
        """The fewest images per batch (per process) ``train_step`` can take, which gen checks
        ``train.batch_size`` against before training: 2 when a network holds a BatchNorm1d
        (in training it normalises each feature over the batch, so one image has nothing to
        normalise by), else 1. Override it where a family needs more."""
        batch_norm = (m for module in self.modules.values() for m in module.modules()
                      if isinstance(m, nn.BatchNorm1d))
        return 2 if any(True for _ in batch_norm) else 1

    @property
    def conditional(self) -> bool:
        return False

    def to(self, device: torch.device) -> Model:
        """Move every module to ``device``. Call before the first step: optimizers keep their
        parameters (moved in place) but not state created on another device."""
        self.device = torch.device(device)
        self.runtime.device = self.device
        for module in self.modules.values():
            module.to(self.device)
        if self.average is not None:
            self.average.to(self.device)
        return self

    def keep_average(self, ema: EMASpec) -> None:
        """Average the modules `sample` runs (``sample_modules``) from now on (``train.ema``)."""
        names = self.sample_modules or tuple(self.modules)
        self.average = WeightAverage({k: self.modules[k] for k in names}, ema.decay,
                                     ema.warmup, ema.start)

    @contextmanager
    def sampling_weights(self) -> Iterator[None]:
        """The weights samples and scores are drawn with for the duration: the average where
        the model keeps one, else the live weights as they are."""
        if self.average is None or self.weights == "ema":
            yield
            return
        with self.average.applied():
            self.weights = "ema"
            try:
                yield
            finally:
                self.weights = "live"

    def use_average(self) -> None:
        """Copy the average (if any) into the live modules for good: a model opened to sample
        or score, never to train on."""
        if self.average is not None:
            self.average.copy_to_live()
            self.weights = "ema"

    def train(self, mode: bool = True) -> None:
        for module in self.modules.values():
            module.train(mode)

    def state_dict(self) -> dict[str, Any]:
        state = {
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
        }
        if self.average is not None:
            state["average"] = self.average.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load weights, optimizer state and the weight average (one is made to hold a saved
        average); raises KeyError/RuntimeError on a mismatch."""
        for key, module in self.modules.items():
            module.load_state_dict(state["modules"][key])
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        if "average" in state:
            if self.average is None:
                self.average = WeightAverage({k: self.modules[k]
                                              for k in state["average"]["modules"]})
            self.average.load_state_dict(state["average"])
        elif self.average is not None:
            raise KeyError("the checkpoint has no weight average (train.ema was off)")

    def num_parameters(self) -> dict[str, int]:
        return {k: sum(p.numel() for p in m.parameters()) for k, m in self.modules.items()}


class AdversarialModel(Model):
    """A generator and a discriminator (or critic). It has a latent (docs/plugins.md): `latent`
    draws z ~ N(0, I) of shape (n, latent_dim) and `generate` pushes z through the generator in
    eval mode (so sampling never updates batch-norm statistics); `sample` is
    ``generate(latent(n))``. Override `latent` (and `generate`) for another prior, and set
    ``truncatable_latent = False`` if it is not i.i.d. standard normal."""

    sample_modules: ClassVar[tuple[str, ...] | None] = ("generator",)
    truncatable_latent: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec, data: DataInfo, generator: nn.Module,
                 discriminator: nn.Module):
        super().__init__(spec, data)
        self.generator = generator
        self.discriminator = discriminator
        self.modules = {"generator": generator, "discriminator": discriminator}

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def conditional(self) -> bool:
        return getattr(self.generator, "num_classes", None) is not None

    @property
    def sampler(self) -> nn.Module:
        """The network `generate` runs (``train.ema`` swaps its average in while sampling)."""
        return self.generator

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), shape (n, latent_dim), on the model's device, from ``generator`` (the
        global RNG when None: training)."""
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] for latents ``z`` (one per image), with `sampler` in eval mode
        (its mode is restored); a conditional model without ``labels`` cycles its classes."""
        if self.conditional and labels is None:
            labels = torch.arange(z.shape[0], device=self.device) % self.generator.num_classes
        net = self.sampler
        was_training = net.training
        net.eval()
        try:
            return net(z.to(self.device), labels)
        finally:
            net.train(was_training)

    @torch.no_grad()
    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.generate(self.latent(n, generator), labels)
