"""Flow matching on the straight path (Lipman et al. 2023; Liu et al. 2022): the spec's
docstring (`gen_diffusion.specs.FlowMatchingSpec`) has the model, `schedules.StraightPath` the
path, `samplers.euler` / `samplers.heun` the ODE solvers."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

import gen
from gen_diffusion import samplers
from gen_diffusion.base import DiffusionModel
from gen_diffusion.samplers import Predict
from gen_diffusion.schedules import StraightPath


class FlowMatching(DiffusionModel):
    """Velocity regression on x_t = (1 - t) x_0 + t x_1, t ~ U(0, 1). No likelihood."""

    samplers = {"euler": ("steps",), "heun": ("steps",)}
    time_scale = 1000.0

    def __init__(self, spec, data: gen.DataInfo):
        super().__init__(spec, data)
        self.path = StraightPath()

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        """One Adam step on E ||v(x_t, t) - (x_1 - x_0)||^2 (Lipman et al. 2023, Eq. 23 with
        sigma_min = 0), noise and times from the global RNG. Logs ``loss``."""
        images, labels = next_batch()
        x1 = images.to(self.dtype)
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0], device=x1.device)
        v = self.unet(self.path.sample(x0, x1, t), t * self.time_scale,
                      self.training_labels(labels))
        loss = F.mse_loss(v.float(), self.path.velocity(x0, x1).float())
        self.optimize("unet", loss)
        return {"loss": loss.detach()}

    def sampler_calls(self, sampler: str, steps: int) -> int:
        """Heun evaluates the velocity twice per step (its corrector runs on the last step too:
        the straight path's velocity is defined at t = 1)."""
        return 2 * steps if sampler == "heun" else steps

    def draw(self, predict: Predict, noise: torch.Tensor, generator: torch.Generator | None,
             sampler: str, steps: int, **options: Any) -> torch.Tensor:
        solver = samplers.heun if sampler == "heun" else samplers.euler
        return solver(predict, noise, steps)
