"""lenet: a small LeNet-style classifier (LeCun et al. 1998) that gen trains on the run's own
data set, for FID, KID and precision/recall offline, where the Inception weights cannot be had
or do not suit the domain (grey 28x28 digits are far from ImageNet). Features are its
penultimate layer (512 values), the input of its linear classifier.

It is trained on the data set's ``train`` part with a fixed seed and recipe, scored on the
``test`` part, and cached under ``$GEN_CACHE/extractors/lenet/`` keyed by data set, image size,
channels and a hash of the training images, so every evaluation of the same data uses the same
weights. Its test accuracy is printed when it is trained, kept in the cache's meta.json and
stored with every score (``extractor_test_accuracy``).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gen.data.datasets import ImageSet, held_out, load_dataset
from gen.errors import DataError
from gen.extractors.base import Extractor, ExtractorRequest, state_sha256
from gen.fileio import atomic_write, atomic_write_text

RECIPE = {"version": 1, "seed": 0, "epochs": 5, "batch_size": 64, "lr": 2e-3}
FEATURES = 32 * 4 * 4


class LeNet(nn.Module):
    """Two 5x5 convolutions that halve the resolution (LeNet-5's subsampling, learned, as
    strides), average-pooled to 4x4 (so one architecture takes any image size) and flattened
    into the features, then a linear classifier.

    No fully-connected hidden layer: trained on digits alone, one maps inputs unlike any digit
    (noise) into the digits' clusters, and precision could no longer tell them apart (measured
    on bundled MNIST: precision of uniform noise 0.66 with a 128-unit layer, 0.00 without)."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        self.head = nn.Linear(FEATURES, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class LeNetFeatures(Extractor):
    has_logits = True

    def __init__(self, net: LeNet, meta: dict):
        super().__init__()
        self.body = net.body
        self.head = net.head  # the classifier, for class coverage (gen.evaluation.coverage)
        self.num_features = FEATURES
        self.weights_hash = meta["weights_sha256"]
        self.details = {"test_accuracy": meta["test_accuracy"]}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(_scale(images))

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits of images from their features (what ``forward`` returned)."""
        return self.head(features)


def build(request: ExtractorRequest) -> LeNetFeatures:
    train = load_dataset(_split(request, "train"))
    if train.labels is None:
        raise DataError(
            f"the lenet extractor is a classifier trained on the run's data, but "
            f"{request.data.dataset} has no class labels (for image-folder: one sub-folder per "
            "class); use --extractor inception"
        )
    folder = request.cache / "lenet" / _key(request, train)
    cached = _load(folder, request)
    if cached is not None:
        return cached
    start = time.perf_counter()
    net = _train(train, request.channels)
    test = load_dataset(_split(request, "test"))
    meta = {
        "extractor": "lenet", **RECIPE, "dataset": request.data.dataset,
        "image_size": request.image_size, "channels": request.channels,
        "classes": train.info.num_classes, "train_images": len(train.labels),
        "train_sha256": _images_sha256(train), "test_images": len(test.labels),
        "test_accuracy": _accuracy(net, test), "train_seconds": time.perf_counter() - start,
        "weights_sha256": state_sha256(net.state_dict()), "torch_version": torch.__version__,
    }
    _save(folder, net, meta)
    request.log(
        f"lenet: trained on {meta['train_images']} {meta['dataset']} images "
        f"({request.channels}x{request.image_size}x{request.image_size}) in "
        f"{meta['train_seconds']:.1f} s; test accuracy {meta['test_accuracy']:.4f} on "
        f"{meta['test_images']} images; cached in {folder}"
    )
    return LeNetFeatures(net, meta)


def _split(request: ExtractorRequest, split: str):
    return held_out(request.data, split).model_copy(
        update={"channels": request.channels, "image_size": request.image_size}
    )


def _images_sha256(data: ImageSet) -> str:
    digest = hashlib.sha256(data.images.contiguous().numpy().tobytes())
    digest.update(data.labels.numpy().tobytes())
    return digest.hexdigest()


def _key(request: ExtractorRequest, train: ImageSet) -> str:
    return (f"{request.data.dataset}-{request.image_size}px-{request.channels}ch-"
            f"{_images_sha256(train)[:16]}-v{RECIPE['version']}")


def _scale(images: torch.Tensor) -> torch.Tensor:
    return images.float().div(127.5).sub(1.0)


def _train(data: ImageSet, channels: int) -> LeNet:
    """Adam on cross-entropy for a few epochs, on the CPU with its own seeded RNG, so the same
    images give the same weights and the caller's RNG stream is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RECIPE["seed"])
        net = LeNet(channels, data.info.num_classes or int(data.labels.max()) + 1)
        opt = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
        order = torch.Generator().manual_seed(RECIPE["seed"])
        batch = RECIPE["batch_size"]
        for _ in range(RECIPE["epochs"]):
            perm = torch.randperm(len(data.labels), generator=order)
            for start in range(0, len(perm), batch):
                idx = perm[start : start + batch]
                loss = F.cross_entropy(net(_scale(data.images[idx])), data.labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return net.eval()


@torch.no_grad()
def _accuracy(net: LeNet, data: ImageSet) -> float:
    correct = sum(
        net(_scale(data.images[s : s + 1000])).argmax(1).eq(data.labels[s : s + 1000]).sum().item()
        for s in range(0, len(data.labels), 1000)
    )
    return correct / len(data.labels)


def _save(folder: Path, net: LeNet, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "weights.pt", lambda tmp: torch.save(net.state_dict(), tmp))
    atomic_write_text(folder / "meta.json", json.dumps(meta, indent=2) + "\n")


def _load(folder: Path, request: ExtractorRequest) -> LeNetFeatures | None:
    """The cached network, or None when absent or damaged (then it is trained again)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
        net = LeNet(request.channels, meta["classes"])
        net.load_state_dict(state)
    except (OSError, ValueError, KeyError, RuntimeError):
        return None
    if state_sha256(state) != meta.get("weights_sha256"):
        request.log(f"lenet: the cached weights in {folder} do not match their hash; retraining")
        return None
    return LeNetFeatures(net.eval(), meta)
