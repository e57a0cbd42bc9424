"""What both flows share: dequantisation, the likelihood bound, training and sampling.

Images x in [-1, 1] lie on the grid k / 127.5 - 1, k = 0 .. 255 (K = 256 bins per sub-pixel),
or are binary, -1 or 1 (K = 2). A flow models a continuous density p(v) on [0, 1)^D, D = C H W:
a preprocessing map (RealNVP: a logit transform; Glow: v - 0.5), whose log-determinant is
included, then the invertible network and its Gaussian priors. Uniform dequantisation
(Theis et al. 2016, section 3.1) gives a lower bound on the probability of the discrete image:

    log P(k) = log E_u[p((k + u) / K)] - D log K >= E_u[log p((k + u) / K)] - D log K

for u ~ U[0, 1)^D (Jensen). `FlowModel.log_prob` is one draw of the right-hand side, with its
noise from a private generator seeded 0, so it is deterministic and leaves the global RNG
alone; `FlowModel.iw_log_prob` is the importance-weighted estimate over S draws,
log 1/S sum_s p((k + u_s) / K) - D log K, a lower bound in expectation that rises towards
log P(k) as S grows. Training minimises the one-draw bound with noise from the global RNG.

Samples draw z from the priors (scaled by a temperature), invert the flow and the
preprocessing, and take the bin each v falls into: exact draws from the discrete model (mass
outside [0, 1) goes to the edge bins). gen's latent contract (docs/plugins.md) sees the
standard-normal noise of every latent part, flattened into one (n, D) tensor: ``latent`` draws
it and ``generate`` inverts it at temperature 1, so ``sample(n) == generate(latent(n))``.
"""

from __future__ import annotations

import math
import warnings

import torch

import gen
from gen_flow.layers import MultiScale
from gen_flow.specs import FlowSpec


class ImageSizeError(gen.DataError, ValueError):
    """Images the multi-scale architecture cannot take (a ValueError too, which the
    conformance kit reads as "this architecture needs other images")."""


class FlowModel(gen.Model):
    """Base of the family: subclasses build the flow and the preprocessing."""

    likelihood = "lower-bound"
    # log_prob's estimator; gen evaluate names the negated one "negative ... (upper bound)"
    likelihood_estimator = "uniform dequantisation bound, one noise draw per image"

    # gen evaluate's nll takes one dequantisation draw per image unless told (--iw-samples):
    # the bound flow papers report (Dinh et al. 2017, Kingma & Dhariwal 2018), and nearly as
    # tight as many draws, since a flow trained on uniformly dequantised images learns a
    # density nearly constant across each bin, where Jensen's gap vanishes. On realnvps
    # trained a few hundred steps on MNIST (16x16 and 32x32), 100 draws lowered it by 0.05
    # bits/dim (under 2%), at 100 times the cost.
    default_iw_samples = 1
    # Images pushed through the flow at once by iw_log_prob (images x draws per chunk).
    iw_batch = 2048
    # Seed of the private generator log_prob and iw_log_prob draw their noise from.
    noise_seed = 0
    # The latent is the base noise, i.i.d. N(0, 1) (the factored-out parts' priors are applied
    # to it by `generate`), so the truncation trick may resample its elements.
    truncatable_latent = True

    def __init__(self, spec: FlowSpec, data: gen.DataInfo):
        super().__init__(spec, data)
        problem = spec.size_problem(data.image_size)
        if problem is not None:
            raise ImageSizeError(f"data.image_size: {problem}")
        if data.channels < 1:
            raise gen.DataError(f"{spec.name} needs at least one channel (got {data.channels})")
        self.bins = 2 if data.binary else 256
        self.flow: MultiScale = self.build_flow(spec, data)
        # Steps of the learning-rate warm-up taken so far: a buffer, so a resumed run
        # continues the warm-up where it stopped.
        self.flow.register_buffer("warmup_done", torch.zeros((), dtype=torch.long))
        self.modules = {"flow": self.flow}
        self.optimizers = {"flow": spec.optimizer.build(self.flow.parameters())}
        self._initialised = False  # cache of flow.initialised once it is True
        self._warm = spec.warmup_steps == 0  # cache: the warm-up is over

    # -- what a flow defines -----------------------------------------------------------------

    def build_flow(self, spec: FlowSpec, data: gen.DataInfo) -> MultiScale:
        raise NotImplementedError

    def preprocess(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v in [0, 1)^D -> (the flow's input, log |det| of the map per image)."""
        raise NotImplementedError

    def postprocess(self, y: torch.Tensor) -> torch.Tensor:
        """The inverse of `preprocess`."""
        raise NotImplementedError

    # -- shapes and values ---------------------------------------------------------------------

    @property
    def dims(self) -> int:
        """D = C * H * W, the denominator of bits per dimension."""
        return self.data.channels * self.data.image_size**2

    @property
    def dtype(self) -> torch.dtype:
        return next(self.flow.parameters()).dtype

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """The bin k of each sub-pixel of images in [-1, 1], as a float tensor of integers:
        0/1 for binarised data, else 0..255 from x = k / 127.5 - 1 (rounded to undo float
        error)."""
        if self.bins == 2:
            return (x > 0).to(x.dtype)
        return x.add(1).mul(127.5).round().clamp(0, 255)

    def images(self, v: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] on the data's grid: the bin each v in [0, 1) falls into (values
        outside go to the edge bins)."""
        v = torch.nan_to_num(v, nan=0.5, posinf=1.0, neginf=0.0)
        k = torch.floor(v * self.bins).clamp(0, self.bins - 1).float()
        return k / ((self.bins - 1) / 2) - 1  # as the data loader scales them (k / 127.5 - 1)

    # -- likelihoods ---------------------------------------------------------------------------

    def log_density(self, v: torch.Tensor) -> torch.Tensor:
        """log p(v) per image in nats, shape (N,), for v (N, C, H, W) in [0, 1)^D: the
        preprocessing's log-determinant, the flow's and its priors."""
        y, logdet = self.preprocess(v)
        return self.flow(y) + logdet

    def log_prob_at(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """log p((k + u) / K) - D log K per image, for images ``x`` and dequantisation noise
        ``u`` in [0, 1)^D of the same shape: for u ~ U[0, 1)^D, an unbiased estimate of the
        lower bound E_u[log p((k + u) / K)] - D log K on log P(k)."""
        v = (self.values(x) + u) / self.bins
        return self.log_density(v) - self.dims * math.log(self.bins)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, self.dtype)

    def _generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.noise_seed)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """A lower bound on log P(x) per image in nats, shape (N,) (``y`` is ignored): one
        draw of the uniform dequantisation bound, its noise from a private generator seeded
        `noise_seed` per call, so the same batch always gives the same values and the global
        RNG is never touched. Differentiable when called with gradients enabled."""
        x = self._inputs(x)
        u = torch.rand(x.shape, generator=self._generator(), device=x.device, dtype=x.dtype)
        return self.log_prob_at(x, u)

    @torch.no_grad()
    def iw_log_prob(
        self, x: torch.Tensor, y: torch.Tensor | None = None, samples: int = 1000
    ) -> torch.Tensor:
        """The importance-weighted estimate of log P(x) per image in nats over ``samples``
        dequantisation draws: log 1/S sum_s p((k + u_s) / K) - D log K. A lower bound in
        expectation, tighter as ``samples`` grows; deterministic like `log_prob` (a private
        generator seeded `noise_seed`), whose value it equals for one sample. Images and
        draws pass through the flow together, at most `iw_batch` at a time."""
        if samples < 1:
            raise gen.GenError(f"iw_log_prob needs at least one sample (got {samples})")
        x = self._inputs(x)
        n = x.shape[0]
        if n == 0:
            return x.new_zeros(0)
        g = self._generator()
        per_chunk = max(1, self.iw_batch // n)
        total: torch.Tensor | None = None
        done = 0
        while done < samples:
            c = min(per_chunk, samples - done)
            u = torch.rand((c, *x.shape), generator=g, device=x.device, dtype=x.dtype)
            flat = self.log_prob_at(x.expand(c, *x.shape).reshape(c * n, *x.shape[1:]),
                                    u.view(c * n, *x.shape[1:]))
            part = flat.view(c, n).logsumexp(0)
            total = part if total is None else torch.logaddexp(total, part)
            done += c
        return total - math.log(samples)

    # -- training ------------------------------------------------------------------------------

    def _reduce(self):
        """Averages a tensor over processes in a multi-process run (None in one process)."""
        world = self.runtime.world
        if world is None:
            return None
        import torch.distributed as dist

        def mean(t: torch.Tensor) -> torch.Tensor:
            t = t.clone()
            dist.all_reduce(t)
            return t / world.size

        return mean

    def _warm_up(self) -> None:
        """Sets the learning rate of this step during the warm-up."""
        if self._warm:
            return
        total = self.spec.warmup_steps
        done = int(self.flow.warmup_done)  # a sync per step during the warm-up only
        factor = 1.0 if done >= total else (done + 1) / total
        for group in self.optimizers["flow"].param_groups:
            group["lr"] = self.spec.optimizer.lr * factor
        if done >= total:
            self._warm = True
        else:
            self.flow.warmup_done += 1

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        """One Adam step on the mean negative dequantisation bound of a batch, its noise from
        the global RNG. The first step also initialises the actnorm layers (Glow) from the
        batch. Logs ``nll`` (nats per image) and ``bits_per_dim``."""
        images, _ = next_batch()
        x = self._inputs(images)
        u = torch.rand(x.shape, device=x.device, dtype=x.dtype)
        if not self._initialised:
            if not self.flow.initialised:
                y, _ = self.preprocess((self.values(x) + u) / self.bins)
                self.flow.data_init(y, self._reduce())
            self._initialised = True
        self._warm_up()
        nll = -self.log_prob_at(x, u).float().mean()
        self.optimize("flow", nll)
        nll = nll.detach()
        return {"nll": nll, "bits_per_dim": nll / (self.dims * math.log(2))}

    def load_state_dict(self, state) -> None:
        super().load_state_dict(state)
        self._initialised = False
        self._warm = self.spec.warmup_steps == 0

    # -- sampling ------------------------------------------------------------------------------

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The standard-normal noise of every latent part (drawn top part first, as `sample`
        draws it), flattened and joined into one tensor of shape (n, D), D = C * H * W."""
        eps = self.flow.noise(n, generator, self.device, self.dtype)
        return torch.cat([e.flatten(1) for e in eps], 1)

    def _parts(self, z: torch.Tensor) -> list[torch.Tensor]:
        """`latent`'s (n, D) tensor back into the flow's latent parts."""
        sizes = [math.prod(shape) for shape in self.flow.shapes]
        if z.dim() != 2 or z.shape[1] != sum(sizes):
            raise gen.GenError(f"{self.spec.name}: expected latents of shape (n, {sum(sizes)}) "
                               f"as latent() draws them, got {tuple(z.shape)}")
        z = z.to(self.device, self.dtype)
        return [part.reshape(-1, *shape).contiguous()
                for part, shape in zip(z.split(sizes, 1), self.flow.shapes, strict=True)]

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                 temperature: float = 1.0) -> torch.Tensor:
        """Images for latents ``z`` of `latent` (``labels`` are ignored): each part's noise
        through its prior (scaled by ``temperature``), the inverse flow and preprocessing, in
        eval mode, onto the data's grid. Where the inverse overflows (a briefly trained Glow's
        tails at T = 1) the non-finite pixels come out mid-grey, with a RuntimeWarning that
        counts them."""
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature < 0:
            raise gen.UsageError(f"temperature must be finite and >= 0 (got {temperature})")
        eps = self._parts(z)
        was_training = self.flow.training
        self.flow.eval()
        try:
            v = self.postprocess(self.flow.decode_noise(eps, temperature))
        finally:
            self.flow.train(was_training)
        overflowed = int((~torch.isfinite(v)).flatten(1).any(1).sum())
        if overflowed:
            warnings.warn(
                f"{self.spec.name}: the inverse flow overflowed for {overflowed} of "
                f"{z.shape[0]} samples at temperature {temperature:g} (the tails of the model; "
                "their non-finite pixels are drawn mid-grey); a lower temperature makes this "
                "rarer", RuntimeWarning, stacklevel=3)  # the caller of generate
        return self.images(v)

    @torch.no_grad()
    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """``n`` images in [-1, 1] on the data's grid (``labels`` are ignored): z drawn from the
        priors with their standard deviations scaled by ``temperature`` (N(0, T^2 I) for the
        standard-normal parts), through the inverse flow and preprocessing: ``generate(latent(n,
        generator), temperature=temperature)``. T = 0 gives the image of the priors' means (z =
        0 for standard-normal priors). The noise comes from ``generator`` only, when given
        (else the global RNG)."""
        temperature = float(temperature)
        if not math.isfinite(temperature) or temperature < 0:
            raise gen.UsageError(f"temperature must be finite and >= 0 (got {temperature})")
        return self.generate(self.latent(n, generator), temperature=temperature)
