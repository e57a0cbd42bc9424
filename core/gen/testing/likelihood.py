"""The kit's checks of a model with a likelihood (``log_prob`` and ``likelihood``): the
contract of ``log_prob``, the measure over every 2x2 binary image, and ``gen evaluate --metrics
nll`` end to end. Each skips for a model that declares no likelihood."""

from __future__ import annotations

import pytest

from gen.errors import GenError
from gen.plugins import discover
from gen.testing.tiny import tiny_model, tiny_spec


class LikelihoodChecks:
    """Mixed into `gen.testing.kit.ModelConformance`; uses its ``info`` and ``tiny_run``
    fixtures and its ``model`` and ``tiny`` attributes."""

    def test_log_prob_contract(self, info):
        """For models with a likelihood: ``log_prob`` gives (N,) finite nats, the same for the
        same images, draws nothing from the global RNG (evaluation must not move training's
        random stream) and lets gradients flow to the parameters."""
        import torch

        from gen.capabilities import capabilities

        model, stream = tiny_model(info, self.tiny)
        if "nll" not in capabilities(type(model)):
            pytest.skip(f"{self.model} declares no likelihood")
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
        assert torch.equal(first, second), "log_prob gave two values for the same images"
        model.log_prob(images, y).sum().backward()
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

        from gen.capabilities import capabilities

        spec = tiny_spec(info, self.tiny)
        cls = info.model_class()
        if "nll" not in capabilities(cls):
            pytest.skip(f"{self.model} declares no likelihood")
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

        from gen.capabilities import capabilities
        from gen.handle import Run

        if "nll" not in capabilities(info.model_class()):
            pytest.skip(f"{self.model} declares no likelihood")
        run = Run(tiny_run.run.root, device="cpu", plugins=discover())
        record = run.evaluate("nll", limit=16, iw_samples=4, record=False)["nll"]
        assert math.isfinite(record["bits_per_dim"]) and record["estimator"], record
