"""`ModelConformance`: the base test class of the conformance kit (see `gen.testing`). Each
failure names its likely cause in the plugin's code, so an author reads what to fix, not the
kit's internals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest

from gen.errors import TrainingError
from gen.plugins import discover
from gen.registry import ModelInfo
from gen.testing.batches import BatchEdgeChecks
from gen.testing.discovery import DiscoveryChecks, find_model
from gen.testing.likelihood import LikelihoodChecks, no_grad_hint
from gen.testing.tiny import (
    TINY_BASE,
    assert_same_training_state,
    tiny_model,
    tiny_spec,
    train_tiny,
)

__all__ = ["TINY_BASE", "ModelConformance", "assert_same_training_state", "tiny_model",
           "tiny_spec", "train_tiny"]


@contextmanager
def diagnosed(info: ModelInfo, tiny: dict[str, Any]) -> Iterator[None]:
    """Runs the model's code; an error the kit can trace to a likely cause (so far: ``log_prob``
    under ``@torch.no_grad()``, which training then cannot differentiate) fails naming it."""
    try:
        yield
    except (RuntimeError, TrainingError) as exc:
        try:
            hint = no_grad_hint(tiny_model(info, tiny)[0])
        except Exception:  # the model cannot even be built: the error at hand says more
            hint = None
        if hint is None:
            raise
        raise AssertionError(f"{hint}\n({type(exc).__name__}: {exc})") from exc


class ModelConformance(DiscoveryChecks, LikelihoodChecks, BatchEdgeChecks):
    """Subclass with ``model`` (a registered name; ``PLUGIN:NAME`` where another plugin
    registers it too), ``plugin_module`` (the import name of the plugin) and ``tiny``
    (dotted-path overrides that make the model small enough for a CPU test).
    """

    model: ClassVar[str]
    plugin_module: ClassVar[str]
    tiny: ClassVar[dict[str, Any]] = {}
    # Whether the tiny run's model is conditional; None = as registered. Set it when ``tiny``
    # turns on a spec option that makes an unconditional-by-default model conditional.
    conditional: ClassVar[bool | None] = None

    @pytest.fixture(scope="class")
    @classmethod
    def info(cls) -> ModelInfo:
        return find_model(discover(), cls.model, cls.plugin_module)

    @pytest.fixture(scope="class")
    @classmethod
    def tiny_run(cls, info, tmp_path_factory):
        out = tmp_path_factory.mktemp(f"{info.name}-run") / "run"
        with diagnosed(info, cls.tiny):
            return train_tiny(info, tiny_spec(info, cls.tiny), out)

    def test_tiny_run_writes_checkpoint_and_samples(self, tiny_run):
        """The core writes these; a model reaches them by training 2 steps and sampling."""
        run = tiny_run.run
        assert tiny_run.step == TINY_BASE["train.steps"] and not tiny_run.interrupted, (
            f"the tiny run stopped at step {tiny_run.step} of {TINY_BASE['train.steps']} "
            f"(interrupted: {tiny_run.interrupted})")
        expected = [run.checkpoints / "latest.pt", run.checkpoints / "step-000002.pt",
                    run.sample_path(2), run.spec_path, run.info_path]
        missing = [str(path.relative_to(run.root)) for path in expected if not path.is_file()]
        assert not missing, f"the tiny run wrote no {', '.join(missing)}"
        steps = [json.loads(line)["step"] for line in run.metrics_path.read_text().splitlines()]
        assert steps == [1, 2], f"metrics.jsonl logs steps {steps}, not one line per step [1, 2]"

    def test_resume_equals_uninterrupted_run(self, info, tiny_run, tmp_path):
        """Resuming the tiny run for one more step gives bit-identical weights to a run that
        trained three steps in one go: everything that matters is in the checkpoint."""
        import shutil

        resumed = tmp_path / "resumed"
        shutil.copytree(tiny_run.run.root, resumed)
        spec = tiny_spec(info, self.tiny, train__steps=3)
        with diagnosed(info, self.tiny):
            result = train_tiny(info, spec, resumed, resume=True)
            straight = train_tiny(info, spec, tmp_path / "b")
        assert result.step == 3, f"the resumed run stopped at step {result.step}, not 3"
        assert_same_training_state(result.checkpoint, straight.checkpoint)

    def test_resume_with_ema_and_schedule_equals_uninterrupted_run(self, info, tmp_path):
        """The same with the core's weight average (``train.ema``) and a learning-rate
        schedule with warm-up and cosine decay on: the average, its update count and every
        scheduler's state resume bit for bit, and the log shows the rates."""
        import shutil

        extra = {**self.tiny, "train.ema": {"decay": 0.9}, "train.lr_schedule": {
            "name": "cosine", "warmup_steps": 2, "total_steps": 3}}
        with diagnosed(info, self.tiny):
            first = train_tiny(info, tiny_spec(info, extra), tmp_path / "a")
            shutil.copytree(first.run.root, tmp_path / "resumed")
            result = train_tiny(info, tiny_spec(info, extra, train__steps=3),
                                tmp_path / "resumed", resume=True)
            straight = train_tiny(info, tiny_spec(info, extra, train__steps=3), tmp_path / "b")
        _, b = assert_same_training_state(result.checkpoint, straight.checkpoint)
        assert "average" in b["state"], "train.ema is on but the checkpoint has no average"
        updates = int(b["state"]["average"]["updates"])
        assert updates == 3, f"the weight average counts {updates} updates in 3 steps"
        lines = [json.loads(line) for line in
                 (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
        rates = {k: [line.get(k) for line in lines] for k in lines[0] if k.startswith("lr/")}
        assert rates, (f"the log lines carry no lr/<optimizer>: {sorted(lines[0])}; are the "
                       "model's optimizers in self.optimizers?")
        for name, (first_lr, full, last) in rates.items():  # warm-up 1/2, 2/2, cosine end 0
            assert last == 0 and first_lr == pytest.approx(full / 2), (
                f"{name} went {rates[name]} over 3 steps; a warm-up of 2 steps, then cosine "
                "decay, goes lr/2, lr, 0: is the optimizer's lr set outside __init__?")

    def test_updates_go_through_optimize(self, info):
        """Every optimizer step of ``train_step`` goes through `Model.optimize`, where the core
        adds loss scaling and averages gradients over processes; a step taken directly would
        silently train each process of a multi-process run on its own."""
        model, stream = tiny_model(info, self.tiny)
        through, outside, inside = [], [], [False]
        optimize = model.runtime.optimize

        def spy(name, optimizer, loss):
            through.append(name)
            inside[0] = True
            try:
                optimize(name, optimizer, loss)
            finally:
                inside[0] = False

        model.runtime.optimize = spy
        for name, opt in model.optimizers.items():
            opt.register_step_pre_hook(
                lambda *_, name=name: None if inside[0] else outside.append(name)
            )
        with diagnosed(info, self.tiny):
            model.train_step(stream)
        assert not outside, f"optimizers {outside} stepped without self.optimize(name, loss)"
        assert through, "train_step made no update through self.optimize(name, loss)"

    def test_train_step_returns_scalar_tensors_by_name(self, info):
        """``train_step`` returns a dict of scalar tensors by name (the loop checks it at its
        first step and stops the run otherwise)."""
        from gen.training.loop import check_step_output

        model, stream = tiny_model(info, self.tiny)
        with diagnosed(info, self.tiny):
            losses = model.train_step(stream)
        check_step_output(info, losses)

    @pytest.mark.parametrize("precision", ["bf16", "fp16"])
    def test_mixed_precision_step_is_finite(self, info, precision):
        """One step under autocast (and fp16 loss scaling) runs and returns finite losses."""
        import torch

        from gen.runtime import Runtime

        model, stream = tiny_model(info, self.tiny)
        model.runtime = Runtime("cpu", precision)
        with diagnosed(info, self.tiny), model.runtime.autocast():
            losses = model.train_step(stream)
        assert losses, f"train_step under {precision} returned no losses"
        bad = {k: v.item() for k, v in losses.items() if not torch.isfinite(v).all()}
        assert not bad, (
            f"train_step under {precision} autocast gave non-finite {bad}: compute what "
            "overflows or underflows in half precision (exp, log, sums of squares) in float32, "
            "e.g. on x.float()")

    def test_samples_have_shape_and_range(self, info, tiny_run):
        import torch

        from gen.handle import Run

        run = Run(tiny_run.run.root, device="cpu", plugins=discover())
        model, data = run.model, run.model.data
        raw = model.sample(5, generator=torch.Generator().manual_seed(1))
        shape = (5, data.channels, data.image_size, data.image_size)
        assert tuple(raw.shape) == shape, (
            f"sample(5) returned shape {tuple(raw.shape)}, not {shape}: sample(n) draws n "
            "images of the run's channels and image size (DataInfo), whatever n the caller asks")
        bad = (~torch.isfinite(raw)).sum().item()
        assert bad == 0, f"sample() returned {bad} non-finite values"
        assert raw.min() >= -1 and raw.max() <= 1, (
            f"samples must lie in [-1, 1]; got min {raw.min().item()}, max {raw.max().item()}")
        images = run.sample(5, seed=1)
        assert images.dtype == torch.uint8 and images.shape == raw.shape, (
            f"Run.sample(5) gave {images.dtype} images of shape {tuple(images.shape)}")
        assert torch.equal(images, run.sample(5, seed=1)), (
            "the same seed gave other samples: sample() must draw from the generator it is "
            "given (torch.randn(..., generator=generator)), not the global RNG")
        expected = info.conditional if self.conditional is None else self.conditional
        assert model.conditional == expected, (
            f"register(conditional={info.conditional}) disagrees with the built model's "
            f"`conditional` ({model.conditional}); where a spec field makes the model "
            "conditional, set the kit's conditional = True for that tiny spec")

    def test_colour_step_and_samples(self, info):
        """The kit's other runs are grey (the bundled digits): one step and samples on
        3-channel data catch a model that hard-codes one channel."""
        import torch

        channels = 1 if self.tiny.get("data.channels") == 3 else 3
        tiny = {**self.tiny, "data.channels": channels}
        model, stream = tiny_model(info, tiny)
        cause = (f"build the networks from DataInfo.channels ({channels} here), not a fixed "
                 "number of channels")
        try:
            with diagnosed(info, tiny):
                model.train_step(stream)
        except RuntimeError as exc:  # a layer of the wrong width
            pytest.fail(f"train_step failed on {channels}-channel images: {cause} "
                        f"({type(exc).__name__}: {exc})", pytrace=False)
        model.train(False)
        images = model.sample(2, generator=torch.Generator().manual_seed(0))
        shape = (2, channels, model.data.image_size, model.data.image_size)
        assert tuple(images.shape) == shape, (
            f"sample(2) on {channels}-channel data returned shape {tuple(images.shape)}, not "
            f"{shape}: {cause if images.shape[1:2] != (channels,) else 'sample(n) draws n'}")

    def test_every_trained_parameter_is_in_modules(self, info):
        """Checkpoints save ``self.modules``: a parameter an optimizer trains outside them is
        lost on resume (and a multi-process run would not average its gradients)."""
        model, _ = tiny_model(info, self.tiny)
        owned = {id(p) for m in model.modules.values() for p in m.parameters()}
        for name, opt in model.optimizers.items():
            for group in opt.param_groups:
                for p in group["params"]:
                    assert id(p) in owned, (
                        f"optimizer {name!r} trains a parameter of shape {tuple(p.shape)} that "
                        "is in no module of self.modules: put its module there so checkpoints "
                        "save it")

    def test_sample_is_no_grad_and_on_the_model_device(self, info):
        """``sample`` builds no graph (it runs under torch.no_grad()) and returns images on the
        model's device, whatever the caller's grad mode."""
        import torch

        model, _ = tiny_model(info, self.tiny)
        model.train(False)
        with torch.enable_grad():
            images = model.sample(2, generator=torch.Generator().manual_seed(0))
        assert not images.requires_grad, (
            "sample() returned images that require grad: decorate it with @torch.no_grad()")
        assert images.device == model.device, (
            f"sample() returned images on {images.device}, the model is on {model.device}")
        bad = (~torch.isfinite(images)).sum().item()
        assert bad == 0, f"sample() returned {bad} non-finite values"

    def test_every_declared_sampler_draws(self, info):
        """For iterative models (``samplers`` declared): each sampler draws images of the
        right shape with each option it declares, ``sampling_defaults`` names one of them,
        and ``network_calls`` counts a positive whole number for the defaults."""
        import torch

        from gen.sampling_options import SamplingOptions

        model, _ = tiny_model(info, self.tiny)
        if not model.samplers:
            pytest.skip(f"{self.model} draws in one pass")
        defaults = model.sampling_defaults()
        assert defaults.get("sampler") in model.samplers, (
            f"sampling_defaults() names sampler {defaults.get('sampler')!r}; the class "
            f"declares {list(model.samplers)}")
        calls = model.network_calls("sample", **defaults)
        assert isinstance(calls, int) and calls > 0, (
            f"network_calls('sample', ...) gave {calls!r}; expected a whole number > 0")
        model.train(False)
        shape = (2, model.data.channels, model.data.image_size, model.data.image_size)
        for sampler, takes in model.samplers.items():
            options = {"steps": 2} if "steps" in takes else {}
            if "eta" in takes:
                options["eta"] = 0.5
            kwargs = SamplingOptions(sampler=sampler, **options).sample_kwargs(model)
            images = model.sample(2, generator=torch.Generator().manual_seed(0), **kwargs)
            assert tuple(images.shape) == shape, (
                f"sampler {sampler!r} gave images of shape {tuple(images.shape)}, not {shape}")
