"""`ModelConformance`: the base test class of the conformance kit (see `gen.testing`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any, ClassVar

import pytest

from gen import specs
from gen.errors import SpecError
from gen.plugins import discover
from gen.registry import ModelInfo
from gen.testing.likelihood import LikelihoodChecks
from gen.testing.tiny import (
    TINY_BASE,
    assert_same_training_state,
    tiny_model,
    tiny_spec,
    train_tiny,
)

__all__ = ["TINY_BASE", "ModelConformance", "assert_same_training_state", "tiny_model",
           "tiny_spec", "train_tiny"]


class ModelConformance(LikelihoodChecks):
    """Subclass with ``model`` (a registered name), ``plugin_module`` (the import name of the
    plugin) and ``tiny`` (dotted-path overrides that make the model small enough for a CPU test).
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
        return discover().registry.get(cls.model)

    @pytest.fixture(scope="class")
    @classmethod
    def tiny_run(cls, info, tmp_path_factory):
        out = tmp_path_factory.mktemp(f"{cls.model}-run") / "run"
        return train_tiny(info, tiny_spec(info, cls.tiny), out)

    def test_discovered_through_entry_point(self, monkeypatch):
        monkeypatch.delenv("GEN_PLUGINS", raising=False)  # entry points only
        plugins = discover()
        assert self.model in plugins.registry.models, (
            f"{self.model!r} is not registered by any installed entry point of group 'gen'"
        )
        owner = plugins.registry.models[self.model].plugin
        record = next(r for r in plugins.records if r.name == owner)
        assert record.ok and self.model in record.models

    def test_default_spec_round_trips(self, info):
        cls = info.spec_class()
        default = specs.default_spec(cls)
        assert default["model"]["name"] == self.model
        again = specs.validate(cls, json.loads(json.dumps(default))).model_dump(mode="json")
        assert again == default

    def test_unknown_field_is_rejected(self, info):
        with pytest.raises(SpecError) as err:
            specs.validate(info.spec_class(), {"model": {"no_such_field": 1}})
        assert [p for p, _ in err.value.problems] == ["model.no_such_field"]

    def test_schema_generates(self, info):
        schema = specs.json_schema(info.spec_class())
        json.dumps(schema)
        assert {"model", "data", "train"} <= set(schema["properties"])

    def test_tiny_run_writes_checkpoint_and_samples(self, tiny_run):
        run = tiny_run.run
        assert tiny_run.step == TINY_BASE["train.steps"] and not tiny_run.interrupted
        assert (run.checkpoints / "latest.pt").is_file()
        assert (run.checkpoints / "step-000002.pt").is_file()
        assert run.sample_path(2).is_file()
        assert run.spec_path.is_file() and run.info_path.is_file()
        lines = run.metrics_path.read_text().splitlines()
        assert [json.loads(line)["step"] for line in lines] == [1, 2]

    def test_resume_equals_uninterrupted_run(self, info, tiny_run, tmp_path):
        """Resuming the tiny run for one more step gives bit-identical weights to a run that
        trained three steps in one go: everything that matters is in the checkpoint."""
        import shutil

        resumed = tmp_path / "resumed"
        shutil.copytree(tiny_run.run.root, resumed)
        spec = tiny_spec(info, self.tiny, train__steps=3)
        result = train_tiny(info, spec, resumed, resume=True)
        assert result.step == 3
        straight = train_tiny(info, tiny_spec(info, self.tiny, train__steps=3), tmp_path / "b")
        assert_same_training_state(result.checkpoint, straight.checkpoint)

    def test_resume_with_ema_and_schedule_equals_uninterrupted_run(self, info, tmp_path):
        """The same with the core's weight average (``train.ema``) and a learning-rate
        schedule with warm-up and cosine decay on: the average, its update count and every
        scheduler's state resume bit for bit, and the log shows the rates."""
        import shutil

        extra = {**self.tiny, "train.ema": {"decay": 0.9}, "train.lr_schedule": {
            "name": "cosine", "warmup_steps": 2, "total_steps": 3}}
        first = train_tiny(info, tiny_spec(info, extra), tmp_path / "a")
        shutil.copytree(first.run.root, tmp_path / "resumed")
        result = train_tiny(info, tiny_spec(info, extra, train__steps=3), tmp_path / "resumed",
                            resume=True)
        straight = train_tiny(info, tiny_spec(info, extra, train__steps=3), tmp_path / "b")
        _, b = assert_same_training_state(result.checkpoint, straight.checkpoint)
        assert "average" in b["state"], "train.ema is on but the checkpoint has no average"
        assert int(b["state"]["average"]["updates"]) == 3
        lines = [json.loads(line) for line in
                 (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
        rates = {k: [line.get(k) for line in lines] for k in lines[0] if k.startswith("lr/")}
        assert rates, f"the log lines carry no lr/<optimizer>: {sorted(lines[0])}"
        for name, (first_lr, full, last) in rates.items():  # warm-up 1/2, 2/2, cosine end 0
            assert last == 0 and first_lr == pytest.approx(full / 2), (name, rates[name])

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
        model.train_step(stream)
        assert not outside, f"optimizers {outside} stepped without self.optimize(name, loss)"
        assert through, "train_step made no update through self.optimize(name, loss)"

    def test_train_step_returns_scalar_tensors_by_name(self, info):
        """``train_step`` returns a dict of scalar tensors by name (the loop checks it at its
        first step and stops the run otherwise)."""
        from gen.training.loop import check_step_output

        model, stream = tiny_model(info, self.tiny)
        check_step_output(info, model.train_step(stream))

    @pytest.mark.parametrize("precision", ["bf16", "fp16"])
    def test_mixed_precision_step_is_finite(self, info, precision):
        """One step under autocast (and fp16 loss scaling) runs and returns finite losses."""
        import torch

        from gen.runtime import Runtime

        model, stream = tiny_model(info, self.tiny)
        model.runtime = Runtime("cpu", precision)
        with model.runtime.autocast():
            losses = model.train_step(stream)
        assert losses and all(torch.isfinite(v).all() for v in losses.values()), losses

    def test_samples_have_shape_and_range(self, info, tiny_run):
        import torch

        from gen.handle import Run

        run = Run(tiny_run.run.root, device="cpu", plugins=discover())
        model, data = run.model, run.model.data
        raw = model.sample(5, generator=torch.Generator().manual_seed(1))
        assert raw.shape == (5, data.channels, data.image_size, data.image_size)
        assert torch.isfinite(raw).all()
        assert raw.min() >= -1 and raw.max() <= 1, (
            f"samples must lie in [-1, 1]; got min {raw.min().item()}, max {raw.max().item()}")
        images = run.sample(5, seed=1)
        assert images.dtype == torch.uint8 and images.shape == raw.shape
        assert torch.equal(images, run.sample(5, seed=1)), "the same seed, the same samples"
        expected = info.conditional if self.conditional is None else self.conditional
        assert model.conditional == expected, (
            "register(conditional=...) disagrees with the built model's `conditional`"
        )

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

    def test_import_does_not_import_torch(self):
        code = textwrap.dedent(f"""
            import sys
            import {self.plugin_module}
            from gen.plugins import discover
            discover().registry.get({self.model!r}).spec_class()
            print("torch" in sys.modules)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "False", "importing the plugin or its spec imported torch"
