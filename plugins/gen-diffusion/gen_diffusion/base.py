"""What both diffusion models share: the U-Net, its optimizer, conditioning with label dropout,
and `sample` with sampler options resolved against the spec's defaults. A model adds its
training step and how a sampler turns a prediction function into images (`draw`)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch

import gen
from gen_diffusion.backbones import build_unet
from gen_diffusion.guidance import calls_per_step, guided
from gen_diffusion.samplers import Predict
from gen_diffusion.specs import DiffusionSpec


class DiffusionModel(gen.Model):
    """Base of the family: one network, ``self.modules = {"unet": ...}``."""

    # What the network's time input is multiplied by (flow matching's t in [0, 1] is scaled
    # to the range of DDPM's integer timesteps the sinusoidal embedding was designed for).
    time_scale: ClassVar[float] = 1.0

    def __init__(self, spec: DiffusionSpec, data: gen.DataInfo):
        super().__init__(spec, data)
        self.unet = build_unet(spec, data)
        self.modules = {"unet": self.unet}
        self.optimizers = {"unet": spec.optimizer.build(self.unet.parameters())}

    @property
    def conditional(self) -> bool:
        return self.unet.num_classes is not None

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    def training_labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """The labels a training step conditions on: None for an unconditional model, else
        each replaced by the null class with probability ``label_dropout`` (global RNG), so the
        same network learns the unconditional prediction guidance needs."""
        if not self.conditional:
            return None
        drop = torch.rand(labels.shape, device=labels.device) < self.spec.label_dropout
        return torch.where(drop, torch.full_like(labels, self.unet.num_classes), labels)

    # -- sampling options --------------------------------------------------------------------

    def sampling_defaults(self) -> dict[str, Any]:
        """The spec's sampler, steps (and eta, guidance where they apply)."""
        out: dict[str, Any] = {"sampler": self.spec.sampler, "steps": self.spec.sample_steps}
        if any("eta" in options for options in self.samplers.values()):
            out["eta"] = self.spec.eta
        if self.conditional:
            out["guidance"] = self.spec.guidance
        return out

    def max_steps(self) -> int | None:
        """The most steps a sampler may take (None: no limit)."""
        return None

    def resolve(self, sampler: str | None = None, steps: int | None = None,
                eta: float | None = None, guidance: float | None = None) -> dict[str, Any]:
        """The options a sample is drawn with: those given, the spec's for the rest. A
        `gen.UsageError` for an unknown sampler, an option the sampler does not take, or a
        value out of range."""
        defaults = self.sampling_defaults()
        name = defaults["sampler"] if sampler is None else sampler
        if name not in self.samplers:
            raise gen.UsageError(f"{self.spec.name} has no sampler {name!r}; choose one of "
                                 f"{', '.join(self.samplers)}")
        takes = self.samplers[name]
        if eta is not None and "eta" not in takes:
            raise gen.UsageError(f"the {name} sampler takes no eta (only "
                                 f"{', '.join(s for s, o in self.samplers.items() if 'eta' in o)}"
                                 " does)")
        out: dict[str, Any] = {"sampler": name,
                               "steps": defaults["steps"] if steps is None else int(steps)}
        limit = self.max_steps()
        if out["steps"] < 1 or (limit is not None and out["steps"] > limit):
            raise gen.UsageError(f"steps: model {self.spec.name!r} takes 1 to {limit or 'any'} "
                                 f"sampler steps (got {out['steps']})")
        if "eta" in takes:
            out["eta"] = float(defaults["eta"] if eta is None else eta)
            if not 0 <= out["eta"] <= 1:
                raise gen.UsageError(f"eta must be in [0, 1] (got {out['eta']})")
        if self.conditional:
            out["guidance"] = float(defaults["guidance"] if guidance is None else guidance)
            if out["guidance"] < 0:
                raise gen.UsageError(f"guidance must be >= 0 (got {out['guidance']})")
        return out

    def network_calls(self, task: Literal["sample", "log_prob"], **options: Any) -> int | None:
        """Network evaluations per image: a sampler's calls per step times the steps, times 2
        for guidance other than 0 or 1 on a conditional model (`guidance.calls_per_step`)."""
        if task != "sample":
            return None
        opts = self.resolve(**options)
        per_step = calls_per_step(self.conditional, opts.get("guidance", 1.0))
        return self.sampler_calls(opts["sampler"], opts["steps"]) * per_step

    def sampler_calls(self, sampler: str, steps: int) -> int:
        """Prediction-function calls of ``sampler`` in ``steps`` steps."""
        return steps

    # -- sampling ----------------------------------------------------------------------------

    def sample_labels(self, n: int, labels: torch.Tensor | None) -> torch.Tensor | None:
        """Labels cycling through the classes when a conditional model is given none."""
        if not self.conditional:
            return None
        if labels is None:
            return torch.arange(n, device=self.device) % self.unet.num_classes
        return labels.to(self.device)

    @torch.no_grad()
    def sample(
        self, n: int, labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None, *, sampler: str | None = None,
        steps: int | None = None, eta: float | None = None, guidance: float | None = None,
    ) -> torch.Tensor:
        """``n`` images in [-1, 1] (clamped), drawn from x_T ~ N(0, I) by ``sampler`` (default
        the spec's) with the network in eval mode; every random number comes from
        ``generator``. ``guidance`` is the classifier-free guidance scale of a conditional
        model (`gen_diffusion.guidance`); ``labels`` default to cycling through the classes."""
        opts = self.resolve(sampler, steps, eta, guidance)
        labels = self.sample_labels(n, labels)
        shape = (n, self.data.channels, self.data.image_size, self.data.image_size)
        was_training = self.unet.training
        self.unet.eval()
        try:
            noise = torch.randn(shape, generator=generator, device=self.device, dtype=self.dtype)
            predict = guided(self.unet, labels, opts.pop("guidance", 1.0), self.time_scale)
            images = self.draw(predict, noise, generator, **opts)
        finally:
            self.unet.train(was_training)
        return images.clamp(-1, 1)

    def draw(self, predict: Predict, noise: torch.Tensor, generator: torch.Generator | None,
             sampler: str, steps: int, **options: Any) -> torch.Tensor:
        """Images from ``noise`` by ``sampler`` on the prediction function ``predict``."""
        raise NotImplementedError
