"""infogan: a GAN whose generator input carries latent codes that a recognition head Q, sharing
the discriminator's body, learns to recover (Chen et al. 2016).

Latent layout, the generator's input: ``[z, one_hot(c_1), ..., one_hot(c_K), u_1 .. u_M]`` with
z ~ N(0, I) of ``noise_dim``, categorical codes c_k uniform over ``categorical_codes[k]``
categories and continuous codes u_m ~ U(-1, 1).

One step (`train_step`):

1. discriminator (optimizer ``discriminator``: body + real/fake head): the non-saturating GAN
   loss on a real batch and on fakes; plus lambda * L_I on those fakes when
   ``info_trains_body``.
2. generator and Q head (optimizer ``generator``): the non-saturating generator loss plus
   lambda * L_I, through the discriminator's body (which this optimizer does not step).

L_I = sum_k CE(Q_k(x), c_k) * info_weight_categorical
      + NLL_Gaussian(u | Q_mu(x), Q_sigma(x)) * info_weight_continuous,
with sigma = 1 unless ``learn_std``. ``mi_categorical`` (logged) is H(c) - CE, the paper's
variational lower bound on I(c; G(z, c)) for the categorical codes (at most sum log K_k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

import gen
from gen_infogan.networks import Discriminator, Generator, QHead
from gen_infogan.specs import InfoGANSpec

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_STD_RANGE = (-5.0, 2.0)  # keeps a learnt sigma from collapsing (an infinite likelihood)


class Codes(NamedTuple):
    """One draw of the generator's inputs, for N images."""

    noise: torch.Tensor  # (N, noise_dim) float
    categorical: torch.Tensor  # (N, K) int64, K = len(categorical_codes)
    continuous: torch.Tensor  # (N, M) float in [-1, 1], M = continuous_codes


class QOutput(NamedTuple):
    """What the Q head says about N images."""

    logits: list[torch.Tensor]  # one (N, categories) per categorical code
    mean: torch.Tensor  # (N, M)
    log_std: torch.Tensor | None  # (N, M) when learn_std, else None (sigma = 1)


class InfoGAN(gen.AdversarialModel):
    # The latent (`latent`, what `generate` takes) is [z, one-hot codes, uniform codes]: only
    # z is N(0, I). The truncation trick resamples every element beyond T, which would turn
    # the one-hot 1s (and uniform codes near +-1) into Gaussian values the generator never
    # saw, so it is refused (`gen sample --truncation` names the model). Interpolation is
    # offered: the slerp between two latents also blends their codes, a smooth path through
    # inputs the generator is continuous in. For a truncated z with codes kept, use
    # `sample_codes(noise=...)` with noise you truncated yourself.
    truncatable_latent = False

    def __init__(self, spec: InfoGANSpec, data: gen.DataInfo):
        generator = Generator(spec.latent_dim, data.channels, data.image_size, spec.g_features)
        discriminator = Discriminator(data.channels, data.image_size, spec.d_features)
        super().__init__(spec, data, generator, discriminator)
        self.categories = list(spec.categorical_codes)
        self.num_continuous = spec.continuous_codes
        outputs = sum(self.categories) + self.num_continuous * (2 if spec.learn_std else 1)
        self.q_head = QHead(discriminator.feature_shape, spec.q_hidden, outputs)
        self.modules["q_head"] = self.q_head
        self.optimizers = {
            "discriminator": spec.d_optimizer.build(discriminator.parameters()),
            "generator": spec.g_optimizer.build(
                [*generator.parameters(), *self.q_head.parameters()]
            ),
        }

    # -- latent codes ----------------------------------------------------------------------

    def draw_codes(self, n: int, generator: torch.Generator | None = None) -> Codes:
        """Noise and codes for ``n`` images from ``generator`` (default: torch's global RNG),
        always in the same order (noise, each categorical code, the continuous codes), so a
        seed gives the same noise whatever is fixed afterwards."""
        kw = {"device": self.device, "generator": generator}
        noise = torch.randn(n, self.spec.noise_dim, **kw)
        cats = [torch.randint(k, (n,), **kw) for k in self.categories]
        categorical = (torch.stack(cats, 1) if cats
                       else torch.zeros(n, 0, dtype=torch.long, device=self.device))
        continuous = torch.rand(n, self.num_continuous, **kw) * 2 - 1
        return Codes(noise, categorical, continuous)

    def assemble(self, codes: Codes) -> torch.Tensor:
        """The generator's input (N, latent_dim) for ``codes``."""
        one_hots = [F.one_hot(codes.categorical[:, i], k).to(codes.noise.dtype)
                    for i, k in enumerate(self.categories)]
        return torch.cat([codes.noise, *one_hots, codes.continuous], 1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.assemble(self.draw_codes(n, generator))

    # -- the Q head and L_I ----------------------------------------------------------------

    def split_q(self, out: torch.Tensor) -> QOutput:
        logits = list(out[:, : sum(self.categories)].split(self.categories, 1))
        rest = out[:, sum(self.categories):]
        m = self.num_continuous
        if self.spec.learn_std:
            return QOutput(logits, rest[:, :m], rest[:, m:].clamp(*_LOG_STD_RANGE))
        return QOutput(logits, rest, None)

    def q(self, features: torch.Tensor) -> QOutput:
        """The Q head on the discriminator body's output (``discriminator(x, features=True)``)."""
        return self.split_q(self.q_head(features))

    def info_terms(self, q: QOutput, codes: Codes) -> dict[str, torch.Tensor]:
        """L_I and its parts for images generated from ``codes``: ``info_loss`` (weighted, to
        minimise), ``info_cat_nll`` and ``info_cont_nll`` (nats per image, summed over codes),
        ``mi_categorical`` (H(c) - CE) and ``q_acc`` (Q's accuracy on the categorical codes)."""
        zero = q.mean.new_zeros(())
        cat_nll = sum((F.cross_entropy(logits.float(), codes.categorical[:, i])
                       for i, logits in enumerate(q.logits)), zero)
        mean = q.mean.float()
        if q.log_std is None:
            sq = 0.5 * (codes.continuous - mean).pow(2)
        else:
            log_std = q.log_std.float()
            sq = log_std + 0.5 * ((codes.continuous - mean) * torch.exp(-log_std)).pow(2)
        cont_nll = (sq + _HALF_LOG_2PI).sum(1).mean() if self.num_continuous else zero
        loss = (self.spec.info_weight_categorical * cat_nll
                + self.spec.info_weight_continuous * cont_nll)
        terms = {"info_loss": loss, "info_cat_nll": cat_nll, "info_cont_nll": cont_nll}
        if self.categories:
            terms["mi_categorical"] = sum(math.log(k) for k in self.categories) - cat_nll
            hits = [(logits.argmax(1) == codes.categorical[:, i]).float().mean()
                    for i, logits in enumerate(q.logits)]
            terms["q_acc"] = torch.stack(hits).mean()
        return terms

    # -- training --------------------------------------------------------------------------

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        real, _ = next_batch()
        n = real.shape[0]
        codes = self.draw_codes(n)
        fake = self.generator(self.assemble(codes))
        ones, zeros = real.new_ones(n), real.new_zeros(n)

        # Discriminator: non-saturating GAN loss (+ L_I on the fakes if it trains the body).
        logits_real = self.discriminator(real)
        logits_fake, features = self.discriminator(fake.detach(), features=True)
        d_loss = (F.binary_cross_entropy_with_logits(logits_real, ones)
                  + F.binary_cross_entropy_with_logits(logits_fake, zeros))
        d_total = d_loss
        if self.spec.info_trains_body:
            d_total = d_loss + self.info_terms(self.q(features), codes)["info_loss"]
        self.optimize("discriminator", d_total)

        # Generator and Q head: fool the discriminator, and make the codes recoverable.
        logits, features = self.discriminator(fake, features=True)
        g_loss = F.binary_cross_entropy_with_logits(logits, ones)
        info = self.info_terms(self.q(features), codes)
        self.optimize("generator", g_loss + info["info_loss"])

        out = {
            "d_loss": d_loss,
            "g_loss": g_loss,
            **info,
            "d_acc_real": (logits_real > 0).float().mean(),
            "d_acc_fake": (logits_fake < 0).float().mean(),
        }
        return {k: v.detach() for k, v in out.items()}

    # -- sampling --------------------------------------------------------------------------

    @torch.no_grad()
    def generate_codes(self, codes: Codes) -> torch.Tensor:
        """Images in [-1, 1] for ``codes``, with the generator in eval mode."""
        net = self.sampler
        was_training = net.training
        net.eval()
        try:
            return net(self.assemble(codes))
        finally:
            net.train(was_training)

    def sample(self, n: int, labels: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images from noise and codes all drawn from ``generator``; ``labels`` is
        ignored (the model is unconditional: the categorical code is learnt, not a class)."""
        return self.generate_codes(self.draw_codes(n, generator))

    def sample_codes(self, n: int, categorical: int | Sequence[int] | torch.Tensor | None = None,
                     continuous: float | Sequence[float] | torch.Tensor | None = None,
                     noise: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images with some inputs fixed; the rest is drawn from ``generator``.

        - ``categorical``: an int (every image, every categorical code), a tensor (n,) (one
          categorical code) or (n, K), or a (K,) sequence for all images;
        - ``continuous``: a float, a (M,) sequence/tensor for all images, or a tensor (n, M);
        - ``noise``: z, (noise_dim,) for all images or (n, noise_dim).

        Everything is drawn first and then overwritten, so the same seed gives the same noise
        and codes whichever of them are fixed.
        """
        z, cat, cont = self.draw_codes(n, generator)
        if categorical is not None:
            cat = self._fill(torch.as_tensor(categorical, device=self.device), cat, "categorical")
            for i, k in enumerate(self.categories):
                if cat.numel() and not 0 <= int(cat[:, i].min()) <= int(cat[:, i].max()) < k:
                    raise ValueError(f"categorical code {i} takes values 0..{k - 1}")
        if continuous is not None:
            cont = self._fill(torch.as_tensor(continuous, device=self.device), cont, "continuous")
        if noise is not None:
            z = self._fill(noise.to(self.device), z, "noise")
        return self.generate_codes(Codes(z, cat.long(), cont.float()))

    @staticmethod
    def _fill(value: torch.Tensor, like: torch.Tensor, what: str) -> torch.Tensor:
        n, width = like.shape
        if value.dim() == 1 and value.shape[0] == n and width == 1 and n != 1:
            value = value[:, None]  # (n,) for a single code
        try:
            return value.to(like.dtype).expand(n, width).clone()
        except RuntimeError:
            raise ValueError(f"{what}: expected shape ({n}, {width}), ({width},) or a "
                             f"scalar, got {tuple(value.shape)}") from None

    def vary_code(self, kind: str = "categorical", index: int = 0,
                  values: Sequence[float] | torch.Tensor | None = None, rows: int = 8,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """A grid, ``rows`` x ``len(values)`` images in row-major order: each row keeps one
        draw of the noise and of the other codes, each column sets code ``index`` of ``kind``
        (``"categorical"`` or ``"continuous"``) to one of ``values`` (default: every category;
        for a continuous code -2..2 in 9 steps, beyond the training range as in the paper's
        figure 2)."""
        if kind == "categorical":
            if not 0 <= index < len(self.categories):
                raise ValueError(f"no categorical code {index} (the model has "
                                 f"{len(self.categories)})")
            k = self.categories[index]
            values = torch.arange(k) if values is None else torch.as_tensor(values)
            if not 0 <= int(values.min()) <= int(values.max()) < k:
                raise ValueError(f"categorical code {index} takes values 0..{k - 1}")
        elif kind == "continuous":
            if not 0 <= index < self.num_continuous:
                raise ValueError(f"no continuous code {index} (the model has "
                                 f"{self.num_continuous})")
            values = torch.linspace(-2, 2, 9) if values is None else values
        else:
            raise ValueError(f"kind must be 'categorical' or 'continuous', not {kind!r}")
        values = torch.as_tensor(values, device=self.device)
        cols = values.shape[0]
        noise, cat, cont = (t.repeat_interleave(cols, 0) for t in self.draw_codes(rows, generator))
        if kind == "categorical":
            cat[:, index] = values.long().repeat(rows)
        else:
            cont[:, index] = values.float().repeat(rows)
        return self.generate_codes(Codes(noise, cat, cont))

    @torch.no_grad()
    def infer_codes(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q's reading of ``images`` in [-1, 1]: the most likely category of each categorical
        code, (N, K) int64, and the mean of the continuous codes, (N, M); in eval mode."""
        nets = (self.discriminator, self.q_head)
        modes = [net.training for net in nets]
        for net in nets:
            net.eval()
        try:
            _, features = self.discriminator(images.to(self.device), features=True)
            q = self.q(features)
        finally:
            for net, mode in zip(nets, modes, strict=True):
                net.train(mode)
        cats = [logits.argmax(1) for logits in q.logits]
        categorical = (torch.stack(cats, 1) if cats
                       else torch.zeros(len(images), 0, dtype=torch.long, device=self.device))
        return categorical, q.mean
