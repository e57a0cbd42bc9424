"""The CUDA path: training, speed paths, resume and moving runs between GPU and CPU.

Skipped without a CUDA device (CI has none); bench/gpu_check.py and these run on a GPU machine.
"""

import pytest
import torch

from gen.handle import Run
from gen.run.checkpoints import load_checkpoint
from gen.testing.kit import tiny_spec, train_tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = {"train.device": "cuda", "train.steps": 4, "train.checkpoint_every": 2}


def modules(result):
    return load_checkpoint(result.checkpoint)["state"]["modules"]


@pytest.mark.parametrize("extra", [
    {}, {"train.precision": "bf16"}, {"train.precision": "fp16"},
    {"train.precision": "bf16", "train.channels_last": True},
])
def test_trains_on_cuda_and_samples_on_cpu(toy_plugins, tmp_path, extra):
    info = toy_plugins.registry.get("toy")
    result = train_tiny(info, tiny_spec(info, {**CUDA, **extra}), tmp_path / "run")
    assert result.step == 4
    run = Run(result.run.root, device="cpu", plugins=toy_plugins)
    images = run.sample(3, seed=0)
    assert images.device.type == "cpu" and images.shape[0] == 3


def test_resume_on_cuda_equals_an_uninterrupted_run(toy_plugins, tmp_path):
    """toy's critic has dropout: the CUDA RNG state must come back with the checkpoint."""
    info = toy_plugins.registry.get("toy")
    train_tiny(info, tiny_spec(info, {**CUDA, "train.steps": 2}), tmp_path / "a")
    resumed = train_tiny(info, tiny_spec(info, CUDA), tmp_path / "a", resume=True)
    straight = train_tiny(info, tiny_spec(info, CUDA), tmp_path / "b")
    a, b = modules(resumed), modules(straight)
    for name, state in b.items():
        for key, tensor in state.items():
            assert torch.equal(a[name][key], tensor), f"{name}.{key}"


def test_cpu_checkpoint_resumes_on_cuda(toy_plugins, tmp_path):
    info = toy_plugins.registry.get("toy-vae")
    train_tiny(info, tiny_spec(info, {**CUDA, "train.device": "cpu", "train.steps": 2}),
               tmp_path / "a")
    resumed = train_tiny(info, tiny_spec(info, CUDA), tmp_path / "a", resume=True)
    assert resumed.step == 4


def test_compiled_networks_train_like_eager_ones_on_cuda(toy_plugins, tmp_path):
    info = toy_plugins.registry.get("toy-vae")
    compiled = train_tiny(info, tiny_spec(info, {**CUDA, "train.compile": True}), tmp_path / "a")
    eager = train_tiny(info, tiny_spec(info, CUDA), tmp_path / "b")
    a, b = modules(compiled), modules(eager)
    for name, state in b.items():
        for key, tensor in state.items():
            torch.testing.assert_close(a[name][key], tensor, rtol=1e-3, atol=1e-4)
