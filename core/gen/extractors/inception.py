"""inception: the 2048 pool features of Inception-v3 with the weights every FID table uses
(TensorFlow's 2015-12-05 graph, Heusel et al. 2017), as ported to PyTorch in
``pt_inception-2015-12-05-6726825d.pth``, run by torch-fidelity's bit-exact port of the
network (the same one torchmetrics uses). Its class logits (1008 classes, without the fc bias:
torch-fidelity's ``logits_unbiased``) give the Inception Score.

uint8 images are resized to 299x299 inside, as TensorFlow 1.x did (the torch-fidelity FID
convention); float32 images already at 299x299 (the clean-fid convention's bicubic resize,
`gen.evaluation.conventions`) go straight into the network's layers.

The weights file is taken from ``--extractor-weights PATH``, else ``$GEN_INCEPTION_WEIGHTS``,
else ``$GEN_CACHE/extractors/`` (downloaded there once where the network allows). Its sha256 is
checked against the prefix the file name carries (torch.hub's rule: ``name-<first 8 hex digits
of the file's sha256>.ext``), so a truncated or different file is refused rather than giving
scores that look like FIDs but are not.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from http.client import HTTPException
from pathlib import Path

import torch

from gen.errors import GenError
from gen.extractors.base import Extractor, ExtractorRequest
from gen.extractors.cache import file_sha256
from gen.fileio import atomic_write
from gen.paths import user_path

FILENAME = "pt_inception-2015-12-05-6726825d.pth"
URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FILENAME}"
SHA256_PREFIX = "6726825d"
ENV = "GEN_INCEPTION_WEIGHTS"
DOWNLOAD_TIMEOUT_S = 30


class InceptionWeightsError(GenError):
    """The Inception weights are missing, unreachable or not the published file."""


def how_to_provide(cache: Path) -> str:
    return (
        f"download {URL} where the network allows and pass --extractor-weights PATH, set "
        f"{ENV}=PATH, or put it at {cache / FILENAME}; or use --extractor lenet, which needs "
        "no download"
    )


def weights_file(request: ExtractorRequest) -> tuple[Path, str]:
    """The checked weights file and its sha256."""
    given = request.weights or os.environ.get(ENV)
    if given:
        path = user_path(given, "--extractor-weights" if request.weights else f"${ENV}")
        if not path.is_file():
            source = "--extractor-weights" if request.weights else f"${ENV}"
            raise InceptionWeightsError(
                f"Inception weights not found at {path} (from {source}): "
                + how_to_provide(request.cache)
            )
    else:
        path = request.cache / FILENAME
        if not path.is_file():
            download(path, request)
    digest = file_sha256(path)
    if not digest.startswith(SHA256_PREFIX):
        raise InceptionWeightsError(
            f"{path} is not the published Inception FID weights: its sha256 is {digest}, "
            f"expected one starting with {SHA256_PREFIX} (a truncated download or another "
            "file?): " + how_to_provide(request.cache)
        )
    return path, digest


def download(path: Path, request: ExtractorRequest) -> None:
    """Fetch the weights into ``path`` (atomically; their hash is checked by the caller)."""
    request.log(f"inception: downloading {URL} -> {path}")

    def write(tmp: Path) -> None:
        with urllib.request.urlopen(URL, timeout=DOWNLOAD_TIMEOUT_S) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
    except (OSError, HTTPException) as exc:  # URLError, timeouts, refusals, a full disk
        raise InceptionWeightsError(
            f"the Inception FID weights are not in {path.parent} and downloading them failed "
            f"({exc}): " + how_to_provide(request.cache)
        ) from None


# torch-fidelity's FeatureExtractorInceptionV3.forward after its resize, up to the pool features
LAYERS = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1",
    "Conv2d_4a_3x3", "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
    "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool",
)


class InceptionFeatures(Extractor):
    input_size = 299
    has_logits = True

    def __init__(self, net: torch.nn.Module, digest: str):
        super().__init__()
        self.net = net
        self.num_features = 2048
        self.weights_hash = f"sha256:{digest}"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1:  # grey images as RGB, the usual convention for MNIST FIDs
            images = images.expand(-1, 3, -1, -1)
        if images.dtype == torch.uint8:
            return self.net(images.contiguous())[0]  # resized to 299x299 inside, as TF did
        if images.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(f"inception takes float images at 299x299, got {tuple(images.shape)}")
        x = (images.to(self.net.fc.weight.dtype) - 128) / 128  # as torch-fidelity scales
        for name in LAYERS:
            x = getattr(self.net, name)(x)
        return torch.flatten(x, 1).float()

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """torch-fidelity's ``logits_unbiased``: the pool features times the fc weights."""
        return features.to(self.net.fc.weight.dtype).mm(self.net.fc.weight.T).float()


def build(request: ExtractorRequest) -> InceptionFeatures:
    path, digest = weights_file(request)
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise GenError(
            "the inception extractor runs torch-fidelity's port of the FID network: "
            "pip install torch-fidelity (or use --extractor lenet)"
        ) from None
    net = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
    )
    return InceptionFeatures(net, digest)
