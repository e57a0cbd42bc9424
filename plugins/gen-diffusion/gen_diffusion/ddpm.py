"""DDPM (Ho et al. 2020): epsilon prediction trained on L_simple, ancestral or DDIM sampling,
and the variational bound as its likelihood. The spec's docstring
(`gen_diffusion.specs.DDPMSpec`) has the papers' figures."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

import gen
from gen_diffusion import samplers
from gen_diffusion.base import DiffusionModel
from gen_diffusion.bound import discretised_gaussian_log_likelihood, normal_kl
from gen_diffusion.samplers import Predict
from gen_diffusion.schedules import GaussianSchedule, cosine_betas, linear_betas
from gen_diffusion.specs import DDPMSpec


class DDPM(DiffusionModel):
    """p(x_{t-1} | x_t) = N(mu-tilde_t(x_t, x0_hat), sigma_t^2 I) with x0_hat from the predicted
    noise (clipped to [-1, 1]) and the fixed variance sigma_t^2 = beta-tilde_t (Ho et al. 2020,
    section 3.2; at t = 1, where beta-tilde_1 = 0, the decoder uses beta-tilde_2, as Nichol &
    Dhariwal's code clips the log-variance; Ho et al.'s floors it at 1e-20 instead)."""

    samplers = {"ancestral": ("steps",), "ddim": ("steps", "eta")}
    likelihood = "lower-bound"
    likelihood_estimator = ("variational bound, Ho et al. 2020 Eq. 5, all T terms, one x_t "
                            "draw per term")
    # Images (timesteps x images) per network call of log_prob.
    bound_batch = 1024
    # Seed of the private generator log_prob draws x_t from.
    noise_seed = 0

    def __init__(self, spec: DDPMSpec, data: gen.DataInfo):
        super().__init__(spec, data)
        betas = (linear_betas(spec.timesteps) if spec.schedule == "linear"
                 else cosine_betas(spec.timesteps))
        self.schedule = GaussianSchedule(betas)
        self.bins = 2 if data.binary else 256
        var = self.schedule.posterior_variance.clone()
        var[0] = var[1]
        self.model_variance = var

    def max_steps(self) -> int:
        return self.spec.timesteps

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        """One Adam step on L_simple = E ||eps - eps(x_t, t)||^2 with t ~ U{1..T} (Ho et al.
        2020, Eq. 14, Algorithm 1); t and eps from the global RNG. Logs ``loss``."""
        images, labels = next_batch()
        x0 = images.to(self.dtype)
        t = torch.randint(0, self.spec.timesteps, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        pred = self.unet(self.schedule.q_sample(x0, t, noise), t, self.training_labels(labels))
        loss = F.mse_loss(pred.float(), noise.float())
        self.optimize("unet", loss)
        return {"loss": loss.detach()}

    def draw(self, predict: Predict, noise: torch.Tensor, generator: torch.Generator | None,
             sampler: str, steps: int, **options: Any) -> torch.Tensor:
        if sampler == "ancestral":
            return samplers.ancestral(predict, self.schedule, noise, steps, generator)
        return samplers.ddim(predict, self.schedule, noise, steps, options["eta"], generator)

    def network_calls(self, task, **options: Any) -> int | None:
        """T for the bound (one call per term), else as `DiffusionModel.network_calls`."""
        if task == "log_prob":
            return self.spec.timesteps
        return super().network_calls(task, **options)

    # -- the variational bound ---------------------------------------------------------------

    def bound_terms(self, x0: torch.Tensor, t: torch.Tensor, xt: torch.Tensor,
                    labels: torch.Tensor | None) -> torch.Tensor:
        """L_{t-1} for every image of a batch of (x_0, t, x_t) in nats per image: the KL
        between the posterior q(x_{t-1} | x_t, x_0) and the model's p(x_{t-1} | x_t) for t > 1,
        -log p(x_0 | x_1) under the discretised Gaussian decoder (Eq. 13) for t = 1."""
        eps = self.unet(xt, t, labels)
        x0_hat = self.schedule.predict_x0(xt, t, eps.to(xt.dtype)).clamp(-1, 1)
        mean, _ = self.schedule.posterior_mean_variance(x0_hat, xt, t)
        var = self.model_variance.to(xt)[t].view(-1, 1, 1, 1).expand_as(xt)
        post_mean, post_var = self.schedule.posterior_mean_variance(x0, xt, t)
        first = t == 0
        # beta-tilde_1 = 0: the KL is masked out there, the clamp only keeps it finite.
        kl = normal_kl(post_mean, post_var.clamp(min=1e-30), mean, var).flatten(1).sum(1)
        terms = torch.where(first, 0.0, kl)
        # The decoder on its rows only, so the other rows' tails give no 0 * inf gradients.
        rows = first.nonzero().flatten()
        decoder = -discretised_gaussian_log_likelihood(
            x0[rows], mean[rows], var[rows].sqrt(), self.bins).flatten(1).sum(1)
        return terms.index_add(0, rows, decoder.to(terms.dtype))

    def prior_term(self, x0: torch.Tensor) -> torch.Tensor:
        """L_T = KL(q(x_T | x_0) || N(0, I)) per image: no parameters, near 0 for a schedule
        that ends near pure noise."""
        t = torch.full((x0.shape[0],), self.spec.timesteps - 1, device=x0.device)
        mean, var = self.schedule.q_mean_variance(x0, t)
        return normal_kl(mean, var, torch.zeros_like(mean), torch.ones_like(var)).flatten(1).sum(1)

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """Images on the data's grid: -1/1 for binary data, else k / 127.5 - 1 (float error
        undone), the bin centres the decoder integrates about."""
        if self.bins == 2:
            return torch.where(x > 0, 1.0, -1.0).to(x.dtype)
        return x.add(1).mul(127.5).round().clamp(0, 255) / 127.5 - 1

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """-(L_T + sum_{t>1} L_{t-1} + L_0) per image in nats (Ho et al. 2020, Eq. 5), a lower
        bound on log P(x) of the discrete image (256 bins per sub-pixel, 2 for binary data).
        Each L_{t-1} is the closed-form KL at one draw x_t ~ q(x_t | x_0), so the sum is an
        unbiased one-sample estimate of the bound; the draws come from a private generator
        seeded `noise_seed` per call, so the same images give the same values and the global
        RNG is untouched. Cost: T network calls per image, batched `bound_batch` images per
        call. ``y``: labels of a conditional model (None: the null class, the unconditional
        model). Differentiable when called with gradients enabled."""
        x0 = self.values(x.to(self.device, torch.float32))
        n, T = x0.shape[0], self.spec.timesteps
        labels = None
        if self.conditional:
            labels = (torch.full((n,), self.unet.num_classes, device=self.device) if y is None
                      else y.to(self.device))
        g = torch.Generator(device=self.device).manual_seed(self.noise_seed)
        total = self.prior_term(x0)
        chunk = max(1, self.bound_batch // max(n, 1))
        for start in range(0, T, chunk):
            ts = torch.arange(start, min(start + chunk, T), device=self.device)
            t = ts.repeat_interleave(n)
            x0s = x0.repeat(len(ts), 1, 1, 1)
            noise = torch.randn(x0s.shape, generator=g, device=self.device, dtype=x0s.dtype)
            ys = None if labels is None else labels.repeat(len(ts))
            terms = self.bound_terms(x0s, t, self.schedule.q_sample(x0s, t, noise), ys)
            total = total + terms.view(len(ts), n).sum(0)
        return -total
