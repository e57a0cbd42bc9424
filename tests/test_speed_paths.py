"""train.precision, train.compile and train.channels_last: same training, other arithmetic."""

import pytest
import torch

from gen.data.datasets import load_dataset
from gen.data.loader import BatchStream
from gen.run.checkpoints import load_checkpoint
from gen.specs import DataSpec
from gen.testing.kit import tiny_spec, train_tiny

TINY = {"train.steps": 4, "train.checkpoint_every": 2}


def modules(result):
    return load_checkpoint(result.checkpoint)["state"]["modules"]


def assert_close(a, b, **tol):
    for name, state in b.items():
        for key, tensor in state.items():
            torch.testing.assert_close(a[name][key], tensor, **tol, msg=f"{name}.{key}")


def test_fp16_run_keeps_loss_scale_in_checkpoint_and_resumes_exactly(toy_plugins, tmp_path):
    info = toy_plugins.registry.get("toy")
    first = train_tiny(info, tiny_spec(info, {**TINY, "train.precision": "fp16",
                                              "train.steps": 2}), tmp_path / "a")
    scalers = load_checkpoint(first.checkpoint)["runtime"]["scalers"]
    assert set(scalers) == {"generator", "discriminator"}
    assert scalers["generator"]["scale"] > 0
    resumed = train_tiny(info, tiny_spec(info, {**TINY, "train.precision": "fp16"}),
                         tmp_path / "a", resume=True)
    straight = train_tiny(info, tiny_spec(info, {**TINY, "train.precision": "fp16"}),
                          tmp_path / "b")
    assert_close(modules(resumed), modules(straight), rtol=0, atol=0)


def test_bf16_autocast_keeps_fp32_weights_close_to_an_fp32_run(toy_plugins, tmp_path):
    info = toy_plugins.registry.get("toy-density")
    bf16 = train_tiny(info, tiny_spec(info, {**TINY, "train.precision": "bf16"}), tmp_path / "a")
    fp32 = train_tiny(info, tiny_spec(info, TINY), tmp_path / "b")
    a, b = modules(bf16), modules(fp32)
    assert a["net"]["logits"].dtype == torch.float32
    assert_close(a, b, rtol=0, atol=0.05)


def test_compiled_networks_train_like_eager_ones(toy_plugins, tmp_path):
    """toy-vae draws its noise outside the networks (compiled code has its own RNG)."""
    info = toy_plugins.registry.get("toy-vae")
    compiled = train_tiny(info, tiny_spec(info, {**TINY, "train.compile": True}), tmp_path / "a")
    eager = train_tiny(info, tiny_spec(info, TINY), tmp_path / "b")
    a, b = modules(compiled), modules(eager)
    assert set(a["encoder"]) == set(b["encoder"]), "compiling must not rename weights"
    assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("world_size", [1, 2])
def test_channels_last_batches_hold_the_same_images(world_size):
    data = load_dataset(DataSpec(limit=64, image_size=8))
    plain = BatchStream(data, 16, seed=0, device="cpu")
    shards = [BatchStream(data, 16, seed=0, device="cpu", rank=r, world_size=world_size,
                          channels_last=True) for r in range(world_size)]
    for _ in range(5):  # across an epoch boundary (64 images, 16 per batch)
        whole = plain().images
        parts = [s().images for s in shards]
        assert all(p.is_contiguous(memory_format=torch.channels_last) for p in parts)
        assert torch.equal(torch.cat(parts), whole)
