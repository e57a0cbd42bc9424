"""The generator's weight average: the core's ``train.ema`` (gen.ema), which gen-gan's own
``model.ema_decay`` became. Runs trained with ``model.ema_decay`` still load and resume."""

import shutil

import pytest
import torch
from gan_helpers import Batches, tiny_model

from gen import specs
from gen.handle import Run
from gen.plugins import discover
from gen.run.checkpoints import load_checkpoint, save_checkpoint
from gen.run.layout import RunDir
from gen.testing.kit import assert_same_training_state, tiny_spec, train_tiny

TINY = {"model.g_features": 4, "model.d_features": 4, "model.latent_dim": 8,
        "data.image_size": 16, "train.sample_every": 100}


def test_off_by_default():
    model = tiny_model("dcgan")
    assert model.average is None and "average" not in model.state_dict()


@pytest.mark.parametrize("name", ["gan", "dcgan", "cgan"])
def test_only_the_generator_is_averaged(name):
    model = tiny_model(name)
    model.keep_average(specs.EMASpec(decay=0.9))
    assert set(model.average.average) == {"generator"}


def test_model_ema_decay_of_older_specs_is_train_ema():
    info = discover().registry.get("dcgan")
    spec = specs.validate(info.spec_class(), {"model": {"ema_decay": 0.99}})
    assert spec.train.ema == specs.EMASpec(decay=0.99)
    assert "ema_decay" not in spec.model_dump()["model"]
    explicit = specs.validate(info.spec_class(), {"model": {"ema_decay": 0.99},
                                                  "train": {"ema": {"decay": 0.5}}})
    assert explicit.train.ema.decay == 0.5
    assert specs.validate(info.spec_class(), {"model": {"ema_decay": None}}).train.ema is None


def test_samples_use_the_average_of_the_generator():
    torch.manual_seed(0)
    model = tiny_model("dcgan")
    model.keep_average(specs.EMASpec(decay=0.5))
    model.train_step(Batches())
    model.average.update(1)
    live = {k: v.clone() for k, v in model.generator.state_dict().items()}
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    with model.sampling_weights():
        images = model.sample(3, generator=torch.Generator().manual_seed(1))
    average = model.average.average["generator"].eval()
    assert torch.equal(images, average(z))
    for k, v in model.generator.state_dict().items():  # the live weights are back
        assert torch.equal(v, live[k]), k


def _legacy(path, ckpt):
    """``ckpt`` rewritten as gen-gan wrote it before train.ema: the average as a module
    ``generator_ema`` with an ``ema_updates`` buffer, model.ema_decay in the spec."""
    state = ckpt["state"]
    average = state.pop("average")
    state["modules"]["generator_ema"] = {**average["modules"]["generator"],
                                         "ema_updates": average["updates"]}
    spec = ckpt["spec"]
    spec["model"]["ema_decay"] = spec["train"].pop("ema")["decay"]
    for key in ("lr_schedule", "lr_schedules"):
        spec["train"].pop(key)
    ckpt.pop("schedules")
    return ckpt


def test_a_run_trained_with_model_ema_decay_loads_and_resumes_bit_identically(tmp_path):
    """A 3-step run written in the old layout (spec.json and checkpoint) samples with its
    average and, resumed to 6 steps, equals a 6-step run of today's train.ema."""
    import json

    info = discover().registry.get("dcgan")
    tiny = {**TINY, "train.ema": {"decay": 0.999}}
    first = train_tiny(info, tiny_spec(info, tiny, train__steps=3), tmp_path / "old")
    run = RunDir(tmp_path / "old")
    ckpt = _legacy(run, load_checkpoint(first.checkpoint))
    shutil.rmtree(run.checkpoints)
    run.checkpoints.mkdir()
    save_checkpoint(run, 3, {k: v for k, v in ckpt.items() if k not in ("format", "step")},
                    None)
    run.spec_path.write_text(json.dumps(ckpt["spec"]))
    old = Run(tmp_path / "old", device="cpu")
    assert old.spec.train.ema.decay == 0.999 and old.model.weights == "ema"
    resumed = train_tiny(info, tiny_spec(info, tiny, train__steps=6), tmp_path / "old",
                         resume=True)
    straight = train_tiny(info, tiny_spec(info, tiny, train__steps=6), tmp_path / "new")
    _, b = assert_same_training_state(resumed.checkpoint, straight.checkpoint)
    assert int(b["state"]["average"]["updates"]) == 6
