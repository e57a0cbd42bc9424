"""VAE: Kingma & Welling 2014, "Auto-Encoding Variational Bayes".

An encoder gives a diagonal Gaussian q(z|x), the prior is p(z) = N(0, I) and a decoder gives
p(x|z): a Bernoulli per pixel on binarised data (``DataInfo.binary``), a discretised logistic per
sub-pixel on 8-bit data (see `gen_vae.likelihoods`). Training maximises the ELBO

    L(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))            (eq. 3)

with one reparameterised sample of z (eq. 10) and the KL in closed form (appendix B); ``beta``
weights the KL term of the training loss (Higgins et al. 2017). ``iw_log_prob`` is the
importance-weighted bound of Burda et al. 2016 (eq. 8), a tighter estimate of log p(x).
``sample`` draws from the model (z, then x ~ p(x|z)); ``decode`` and ``sample_means`` give the
decoder's mean images, which look smoother but are not draws. ``latent`` and ``generate`` are
gen's latent contract (docs/plugins.md): z ~ p(z), then the decoder's mean, so the truncation
trick and spherical interpolation (`gen sample --truncation`, `--interpolate --between
latents`) show means, as the VAE literature's figures do.

Every likelihood is in nats per image. `gen_vae.cvae.CVAE` adds class labels.
"""

from __future__ import annotations

import torch

import gen
from gen_vae import bounds
from gen_vae.likelihoods import Bernoulli, DiscretisedLogistic
from gen_vae.networks import Decoder, Encoder
from gen_vae.specs import VariationalSpec


class VAE(gen.Model):
    likelihood = "lower-bound"
    likelihood_estimator = "ELBO"
    truncatable_latent = True  # the prior p(z) = N(0, I): every element i.i.d. N(0, 1)

    # Images decoded at once by iw_log_prob (images x samples per chunk): bounds its memory.
    iw_batch = 4096

    def __init__(self, spec: VariationalSpec, data: gen.DataInfo, num_classes: int | None = None):
        super().__init__(spec, data)
        self.latent_dim = spec.latent_dim
        self.num_classes = num_classes
        self.output = Bernoulli if data.binary else DiscretisedLogistic
        c, s = data.channels, data.image_size
        self.encoder = Encoder(c, s, spec.features, spec.hidden, spec.latent_dim, num_classes)
        self.decoder = Decoder(
            spec.latent_dim, c, s, spec.features, spec.hidden, self.output.params, num_classes
        )
        self.modules = {"encoder": self.encoder, "decoder": self.decoder}
        params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.optimizers = {"vae": spec.optimizer.build(params)}

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    # -- training ------------------------------------------------------------------------------

    def elbo_terms(
        self, x: torch.Tensor, y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(x|z) for one z ~ q(z|x), KL(q(z|x) || p(z))), each (N,) in nats, with
        gradients. Their difference is an unbiased one-sample estimate of the ELBO. The noise
        comes from ``generator``, or from the global RNG (training) when it is None."""
        x, y = self._inputs(x, y)
        mu, log_var = self.encoder(x, y)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = bounds.reparameterise(mu, log_var, eps)
        log_px = self.output.log_prob(self.decoder(z, y), self.output.target(x))
        return log_px, bounds.kl_to_standard_normal(mu, log_var)

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        """One Adam step on the beta-weighted negative ELBO, averaged over the batch. Logs (per
        image, nats): ``loss``, ``elbo`` (the true bound, beta = 1), ``recon`` = -log p(x|z) and
        ``kl``."""
        images, labels = next_batch()
        log_px, kl = self.elbo_terms(images, labels)
        loss = -(log_px - self.spec.beta * kl).mean()
        self.optimize("vae", loss)
        log_px, kl = log_px.detach(), kl.detach()
        return {
            "loss": loss.detach(),
            "elbo": (log_px - kl).mean(),
            "recon": -log_px.mean(),
            "kl": kl.mean(),
        }

    # -- likelihoods ---------------------------------------------------------------------------

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The ELBO per image in nats, shape (N,): a *lower bound* on log p(x) (log p(x|y) for
        a conditional model), estimated with one z ~ q(z|x) and the KL in closed form. Always
        the true bound (beta = 1), whatever the training beta. The z comes from a generator of
        its own, seeded alike at every call: the same images give the same value, and scoring
        never moves the training RNG."""
        log_px, kl = self.elbo_terms(x, y, _scoring_generator(x.device))
        return log_px - kl

    @torch.no_grad()
    def iw_log_prob(
        self, x: torch.Tensor, y: torch.Tensor | None = None, samples: int = 1000
    ) -> torch.Tensor:
        """The importance-weighted estimate of log p(x) per image in nats (Burda et al. 2016,
        eq. 8): log 1/K sum_k p(x, z_k) / q(z_k|x) with K = ``samples`` draws z_k ~ q(z|x).
        A lower bound for every K that rises towards log p(x) as K grows; its expectation for
        K = 1 is the ELBO. Images and samples are decoded together, in chunks of at most
        `iw_batch` images, so memory stays bounded for any K."""
        if samples < 1:
            raise gen.GenError(f"iw_log_prob needs at least one sample (got {samples})")
        x, y = self._inputs(x, y)
        per_block = max(1, self.iw_batch)
        generator = _scoring_generator(x.device)
        parts = [
            self._iw_block(x[i : i + per_block], None if y is None else y[i : i + per_block],
                           samples, generator)
            for i in range(0, x.shape[0], per_block)
        ]
        return torch.cat(parts) if parts else x.new_zeros(0)

    def _iw_block(self, x: torch.Tensor, y: torch.Tensor | None, samples: int,
                  generator: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        mu, log_var = self.encoder(x, y)
        target = self.output.target(x)

        def log_weights(c: int) -> torch.Tensor:
            eps = torch.randn(c, *mu.shape, generator=generator, device=mu.device)
            z = bounds.reparameterise(mu, log_var, eps)
            flat_z = z.reshape(c * n, -1)  # sample-major: row i * n + j is image j
            flat_y = None if y is None else y.repeat(c)
            params = self.decoder(flat_z, flat_y)
            log_px = self.output.log_prob(params, target.repeat(c, 1, 1, 1)).view(c, n)
            log_pz = bounds.standard_normal_log_prob(z)
            log_qz = bounds.normal_log_prob(z, mu, log_var)
            return log_px + log_pz - log_qz

        return bounds.chunked_log_mean_exp(log_weights, samples, max(1, self.iw_batch // n))

    # -- latents and images --------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean E[z|x], shape (N, latent_dim)."""
        x, y = self._inputs(x, y)
        return self.encoder(x, y)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of p(x|z) as images in [-1, 1], shape (N, C, H, W): for binary data the
        probability of each pixel being on (grey where unsure), for 8-bit data the logistic's
        mean. Means look better than samples, whose independent pixel noise hides the shape."""
        z = z.to(self.device, torch.float32)
        y = self._labels(y, z.shape[0])
        return self.output.mean(self.decoder(z, y)).clamp(-1.0, 1.0)

    @torch.no_grad()
    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draws x ~ p(x|z) for z ~ N(0, I): the model's distribution, in the data's value set
        (-1 or 1 per pixel on binarised data, 8-bit bin centres otherwise), which is what the
        quality metrics must compare with held-out images. Randomness comes from ``generator``
        only. A conditional model without ``labels`` cycles through its classes."""
        z, y = self._prior(n, labels, generator)
        return self.output.sample(self.decoder(z, y), generator)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ p(z) = N(0, I), shape (n, latent_dim), from ``generator``: the z `sample` and
        `sample_means` draw first for a generator in the same state."""
        return torch.randn(n, self.latent_dim, device=self.device, generator=generator)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean images for latents ``z`` (`decode`); a conditional model without
        ``labels`` cycles through its classes. ``generate(latent(n, g))`` is
        ``sample_means(n, generator=g)``."""
        if self.conditional and labels is None:
            labels = torch.arange(z.shape[0], device=self.device) % self.num_classes
        return self.decode(z, labels)

    @torch.no_grad()
    def sample_means(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The means of p(x|z) for z ~ N(0, I) (see `decode`): what a VAE's figures usually
        show, not draws of the model, so not for scoring. Same z as `sample` for a generator
        in the same state."""
        return self.decode(*self._prior(n, labels, generator))

    # -- helpers -------------------------------------------------------------------------------

    def _prior(
        self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z ~ N(0, I) from ``generator`` and the labels to decode it with."""
        z = self.latent(n, generator)
        if self.conditional and labels is None:
            labels = torch.arange(n, device=self.device) % self.num_classes
        return z, self._labels(labels, n)

    def _inputs(
        self, x: torch.Tensor, y: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return x.to(self.device, torch.float32), self._labels(y, x.shape[0])

    def _labels(self, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Labels on the device for a conditional model (required), None otherwise (ignored)."""
        if not self.conditional:
            return None
        if y is None:
            raise gen.GenError(
                f"{self.spec.name} is conditional: pass class labels y (one per image)"
            )
        y = torch.as_tensor(y, device=self.device).long().reshape(-1)
        if y.shape[0] != n:
            raise gen.GenError(f"got {y.shape[0]} labels for {n} images")
        return y


def _scoring_generator(device: torch.device) -> torch.Generator:
    """The noise of a likelihood estimate: fixed, so scores are repeatable, and apart from the
    global RNG that training draws from."""
    return torch.Generator(device=device).manual_seed(0)
