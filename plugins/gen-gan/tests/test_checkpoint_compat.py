"""Runs trained before model.backbone existed still load: every default model builds the same
state-dict keys and shapes as gen-gan did then (tests/fixtures/..._before_backbones.json was
written by that version, commit b90719b, with the models below). The generator's average,
then a module ``generator_ema``, is now the core's ``train.ema`` and loads from it (test_ema)."""

import json
from pathlib import Path

import pytest

import gen
from gen import specs
from gen.plugins import discover

BEFORE = json.loads((Path(__file__).parent / "fixtures" /
                     "state_dict_shapes_before_backbones.json").read_text())
# name in the fixture -> (model, model section of the spec as those runs recorded it)
CASES = {"gan": ("gan", {}), "dcgan": ("dcgan", {}), "lsgan": ("lsgan", {}),
         "wgan": ("wgan", {}), "wgan-gp": ("wgan-gp", {}),
         "wgan-gp/critic_norm=none": ("wgan-gp", {"critic_norm": "none"}),
         "cgan": ("cgan", {}), "acgan": ("acgan", {}),
         "dcgan/ema": ("dcgan", {"ema_decay": 0.999})}


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_models_keep_the_state_dict_of_earlier_runs(case):
    model, section = CASES[case]
    info = discover().registry.get(model)
    spec = specs.validate(info.spec_class(), {"model": section})
    data = gen.DataInfo(name="t", channels=1, image_size=spec.data.image_size, num_classes=10,
                        num_images=100)
    built = info.model_class()(spec.model, data)
    shapes = {name: {k: list(v.shape) for k, v in module.state_dict().items()}
              for name, module in built.modules.items()}
    before = dict(BEFORE[case])
    average = dict(before.pop("generator_ema", None) or {}) or None
    assert shapes == before
    if average is not None:  # now the core's weight average (train.ema), loaded from it
        average.pop("ema_updates", None)  # its update count, now WeightAverage.updates
        assert spec.train.ema is not None and average == shapes["generator"]
