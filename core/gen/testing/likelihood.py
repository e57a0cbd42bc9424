"""The kit's checks of a model with a likelihood (``log_prob`` and ``likelihood``): the
contract of ``log_prob``, the measure over every 2x2 binary image, and ``gen evaluate --metrics
nll`` end to end. Each skips for a model that declares no likelihood, with a warning where it
has a ``log_prob`` all the same (gen reads the capability from both)."""

from __future__ import annotations

import warnings

import pytest

from gen.errors import GenError
from gen.plugins import discover
from gen.testing.tiny import tiny_model, tiny_spec

NO_GRAD = ("log_prob gives values without a graph with gradients enabled: don't decorate "
           "log_prob with @torch.no_grad() (gen calls it under no_grad where it only scores; "
           "training and gradient checks need its graph)")


def no_grad_hint(model) -> str | None:
    """`NO_GRAD` where the model's ``log_prob`` builds no graph with gradients on (it is
    decorated with no_grad, or detaches), else None."""
    import torch

    if not callable(getattr(model, "log_prob", None)):
        return None
    data = model.data
    x = torch.zeros(2, data.channels, data.image_size, data.image_size, device=model.device)
    y = torch.zeros(2, dtype=torch.long, device=model.device) if model.conditional else None
    try:
        with torch.enable_grad():
            values = model.log_prob(x, y)
    except Exception:  # a log_prob that fails says so in its own test
        return None
    return NO_GRAD if isinstance(values, torch.Tensor) and not values.requires_grad else None


def skip_without_likelihood(model_class: type, name: str) -> None:
    """Skip the check for a model without the ``nll`` capability; warn where the class has a
    ``log_prob`` but no ``likelihood``, so gen would never score it."""
    from gen.capabilities import capabilities

    if "nll" in capabilities(model_class):
        return
    if callable(getattr(model_class, "log_prob", None)):
        message = (f"{name} has log_prob but no likelihood: gen offers no nll without it; set "
                   "the class attribute likelihood = 'exact' or 'lower-bound'")
        warnings.warn(message, stacklevel=2)
        pytest.skip(message)
    pytest.skip(f"{name} declares no likelihood")


class LikelihoodChecks:
    """Mixed into `gen.testing.kit.ModelConformance`; uses its ``info`` and ``tiny_run``
    fixtures and its ``model`` and ``tiny`` attributes."""

    def test_log_prob_contract(self, info):
        """For models with a likelihood: ``log_prob`` gives (N,) finite nats, the same for the
        same images, draws nothing from the global RNG (evaluation must not move training's
        random stream) and lets gradients flow to the parameters."""
        import torch

        model, stream = tiny_model(info, self.tiny)
        skip_without_likelihood(type(model), self.model)
        images, labels = stream()
        y = labels if model.conditional else None
        model.train(False)
        state = torch.get_rng_state()
        with torch.no_grad():
            first, second = model.log_prob(images, y), model.log_prob(images, y)
        assert torch.equal(torch.get_rng_state(), state), (
            "log_prob drew from the global RNG: draw any noise from a torch.Generator of its own")
        assert first.shape == (images.shape[0],), (
            f"log_prob must return one value per image, shape ({images.shape[0]},); got "
            f"{tuple(first.shape)}")
        assert torch.isfinite(first).all(), (
            f"log_prob returned non-finite values: min {first.min().item()}, max "
            f"{first.max().item()}")
        assert torch.equal(first, second), (
            "log_prob gave two values for the same images: draw any noise from a "
            "torch.Generator of its own, seeded the same at every call")
        with_grad = model.log_prob(images, y)
        assert with_grad.requires_grad, NO_GRAD
        with_grad.sum().backward()
        grads = [p.grad for m in model.modules.values() for p in m.parameters()
                 if p.grad is not None]
        assert grads, "no gradient reached any parameter through log_prob"
        assert all(torch.isfinite(g).all() for g in grads), "log_prob's gradients are not finite"

    def test_probabilities_over_every_2x2_binary_image(self, info):
        """On 2x2 binary images (16 in all) the probabilities ``log_prob`` gives sum to 1 for
        an exact model, and to at most 1 for a lower bound: the measure is right. (A bound's
        log_prob is one fixed noise draw, an estimate: the check holds with the slack of the
        freshly built model it runs on; a family checks its trained bound in its own tests.)"""
        import dataclasses
        import itertools

        import torch

        spec = tiny_spec(info, self.tiny)
        cls = info.model_class()
        skip_without_likelihood(cls, self.model)
        model, _ = tiny_model(info, self.tiny)
        data = dataclasses.replace(model.data, channels=1, image_size=2, binary=True,
                                   num_images=16)
        grid = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=4))).view(16, 1, 2, 2)
        try:
            model = cls(spec.model, data)
            model.train(False)
            y = torch.zeros(16, dtype=torch.long) if model.conditional else None
            with torch.no_grad():
                log_p = model.log_prob(grid, y)
        except (RuntimeError, ValueError, GenError) as exc:  # needs larger images
            pytest.skip(f"{self.model} cannot score 2x2 binary images: {exc}")
        total = log_p.double().exp().sum().item()
        if model.likelihood == "exact":
            assert abs(total - 1) < 1e-4, (
                f"an exact likelihood must sum to 1 over all 16 binary 2x2 images; got {total}")
        else:
            assert total <= 1 + 1e-4, (
                f"a lower bound must sum to at most 1 over all 16 binary 2x2 images; got {total}")

    def test_evaluate_nll_end_to_end(self, info, tiny_run):
        """``gen evaluate --metrics nll`` on the tiny run: finite bits/dim, the estimator
        named."""
        import math

        from gen.handle import Run

        skip_without_likelihood(info.model_class(), self.model)
        run = Run(tiny_run.run.root, device="cpu", plugins=discover())
        record = run.evaluate("nll", limit=16, iw_samples=4, record=False)["nll"]
        assert math.isfinite(record["bits_per_dim"]), (
            f"gen evaluate --metrics nll gave {record['bits_per_dim']} bits/dim: log_prob is "
            "finite on training batches but not on the test split in eval mode")
        assert record["estimator"], f"the nll record names no estimator: {record}"
