"""A linear VAE with Bernoulli pixels: enough to test the core's latent-variable commands."""

import math

import torch
import torch.nn.functional as F
from torch import nn

import gen


class ToyVAE(gen.Model):
    likelihood = "lower-bound"
    likelihood_estimator = "ELBO"

    def __init__(self, spec, data):
        super().__init__(spec, data)
        self.latent_dim = spec.latent_dim
        self.shape = (data.channels, data.image_size, data.image_size)
        dims = math.prod(self.shape)
        self.encoder = nn.Linear(dims, 2 * spec.latent_dim)
        self.decoder = nn.Linear(spec.latent_dim, dims)
        self.modules = {"encoder": self.encoder, "decoder": self.decoder}
        params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.optimizers = {"vae": torch.optim.Adam(params, lr=spec.lr)}

    def _posterior(self, x):
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    def _log_px(self, x, z):
        logits = self.decoder(z)
        target = (x.flatten(1) > 0).float().expand_as(logits)
        return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)

    def _elbo(self, x, generator=None):
        mu, logvar = self._posterior(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * (0.5 * logvar).exp()
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
        return self._log_px(x, z) - kl

    def log_prob(self, x, y=None):  # scoring: noise of its own, never the training RNG
        return self._elbo(x, torch.Generator(device=x.device).manual_seed(0))

    def iw_log_prob(self, x, y=None, samples=1000):
        mu, logvar = self._posterior(x)
        std = (0.5 * logvar).exp()
        g = torch.Generator(device=x.device).manual_seed(0)
        z = mu + torch.randn(samples, *mu.shape, generator=g, device=x.device) * std
        normal = torch.distributions.Normal
        log_w = (self._log_px(x, z) + normal(0, 1).log_prob(z).sum(-1)
                 - normal(mu, std).log_prob(z).sum(-1))
        return torch.logsumexp(log_w, 0) - math.log(samples)

    def encode(self, x, y=None):
        return self._posterior(x)[0]

    def decode(self, z, y=None):
        return torch.sigmoid(self.decoder(z)).view(-1, *self.shape) * 2 - 1

    def train_step(self, next_batch):
        images, _ = next_batch()
        loss = -self._elbo(images).mean()
        self.optimize("vae", loss)
        return {"loss": loss.detach()}

    @torch.no_grad()
    def sample(self, n, labels=None, generator=None):
        z = torch.randn(n, self.latent_dim, generator=generator, device=self.device)
        return self.decode(z)
