"""The kit's checks of batch sizes at their edges: the smallest batch the model says it can
train on (``min_batch_size``) trains, and a batch of one image samples and scores in eval mode
(the last batch of `gen sample` or `gen evaluate` may hold one)."""

from __future__ import annotations

from gen.testing.tiny import tiny_model

CAUSE = ("a layer that needs more than one image per batch in training (batch statistics): "
         "override the model's min_batch_size property to say so, and gen refuses a smaller "
         "train.batch_size before training")


class BatchEdgeChecks:
    """Mixed into `gen.testing.kit.ModelConformance`; uses its ``info`` fixture and ``tiny``."""

    def test_the_smallest_batch_trains(self, info):
        """One step at ``min_batch_size`` images gives finite losses."""
        import torch

        least = tiny_model(info, self.tiny)[0].min_batch_size
        assert isinstance(least, int) and least >= 1, (
            f"min_batch_size is {least!r}; expected a whole number of at least 1")
        model, stream = tiny_model(info, {**self.tiny, "train.batch_size": least})
        try:
            losses = model.train_step(stream)
        except (RuntimeError, ValueError) as exc:
            raise AssertionError(f"train_step failed at a batch of {least} image(s), the model's "
                                 f"min_batch_size: {CAUSE} ({type(exc).__name__}: {exc})") from exc
        bad = {k: v.item() for k, v in losses.items() if not torch.isfinite(v).all()}
        assert not bad, f"train_step at a batch of {least} gave non-finite {bad}: {CAUSE}"

    def test_one_image_samples_and_scores(self, info):
        """In eval mode ``sample(1)`` and, for a model with one, ``log_prob`` of one image
        work: batch statistics are running ones there."""
        import torch

        model, stream = tiny_model(info, self.tiny)
        model.train(False)
        d = model.data
        images = model.sample(1, generator=torch.Generator().manual_seed(0))
        assert tuple(images.shape) == (1, d.channels, d.image_size, d.image_size), (
            f"sample(1) returned shape {tuple(images.shape)}")
        if callable(getattr(model, "log_prob", None)) and model.likelihood is not None:
            batch = stream()
            x = batch.images[:1]
            y = batch.labels[:1] if model.conditional else None
            with torch.no_grad():
                values = model.log_prob(x, y)
            assert values.shape == (1,) and torch.isfinite(values).all(), (
                f"log_prob of one image gave {values!r}: it must score each image on its own")
