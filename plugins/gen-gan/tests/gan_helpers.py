"""Tiny models and batches shared by the tests."""

import torch

import gen
from gen.plugins import discover

MODELS = ["gan", "dcgan", "hinge", "lsgan", "wgan", "wgan-gp", "cgan", "acgan"]
TINY = {"gan": {"g_hidden": [16], "d_hidden": [16], "latent_dim": 8}}
TINY_CONV = {"g_features": 4, "d_features": 4, "latent_dim": 8}


def data_info(size: int = 16, channels: int = 1, classes: int | None = 10) -> gen.DataInfo:
    return gen.DataInfo(name="t", channels=channels, image_size=size, num_classes=classes,
                        num_images=100)


def tiny_model(name: str, size: int = 16, **fields):
    info = discover().registry.get(name)
    spec = info.spec_class()(**{**TINY.get(name, TINY_CONV), **fields})
    return info.model_class()(spec, data_info(size))


class Batches:
    """A `next_batch` that counts its calls; random images in [-1, 1] with labels."""

    def __init__(self, n: int = 8, size: int = 16, seed: int = 0):
        self.g = torch.Generator().manual_seed(seed)
        self.n, self.size, self.calls = n, size, 0

    def __call__(self) -> gen.Batch:
        self.calls += 1
        images = torch.rand(self.n, 1, self.size, self.size, generator=self.g) * 2 - 1
        return gen.Batch(images, torch.randint(0, 10, (self.n,), generator=self.g))
