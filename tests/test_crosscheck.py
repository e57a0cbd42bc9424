"""gen's Inception Score, FID, precision/recall and clean-fid resize against torch-fidelity's
and clean-fid's own functions (the `test` extra installs both), on the same features or images.

The Inception weights cannot be downloaded here, so the libraries are given the same stand-in
features and logits as gen, and a randomly initialised copy of torch-fidelity's network shows
that gen runs it the same way on the clean-fid convention's float images.
"""

from unittest import mock

import numpy as np
import pytest
import torch
from cleanfid.fid import frechet_distance as cleanfid_distance
from cleanfid.resize import make_resizer
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from gen.evaluation.conventions import clean_resize
from gen.evaluation.metrics.feature_distances import frechet_distance
from gen.evaluation.metrics.inception_score import inception_score
from gen.evaluation.metrics.precision_recall import precision_recall
from gen.extractors.inception import InceptionFeatures


def gaussian(n: int, dim: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """Correlated Gaussian features, as float32 like an extractor's."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(dim, dim, generator=torch.Generator().manual_seed(99)) / dim**0.5
    return (torch.randn(n, dim, generator=g) @ mix + shift).float()


@pytest.mark.parametrize("n", [1000, 1003])  # 1003: splits of unequal size, as i * N // 10 cuts
def test_inception_score_equals_torch_fidelitys(n):
    logits = gaussian(n, 1008, seed=n) * 4
    mean, std = inception_score(logits)
    theirs = isc_features_to_metric(logits)
    assert mean == pytest.approx(theirs["inception_score_mean"], abs=1e-3)
    assert std == pytest.approx(theirs["inception_score_std"], abs=1e-3)
    assert mean > 1.5  # confident, varied logits: far from the floor of 1


def test_fid_equals_torch_fidelitys_and_clean_fids():
    real, fake = gaussian(2000, 64, seed=1), gaussian(2000, 64, seed=2, shift=0.3) * 1.2
    ours = frechet_distance(real.double(), fake.double())
    stats = [fid_features_to_statistics(f.double()) for f in (real, fake)]
    fidelity = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    clean = cleanfid_distance(stats[0]["mu"], stats[0]["sigma"], stats[1]["mu"],
                              stats[1]["sigma"])
    assert ours > 5
    assert abs(ours - fidelity) < 1e-2 and abs(ours - clean) < 1e-2, (ours, fidelity, clean)


def test_precision_recall_equals_torch_fidelitys_prc():
    real, fake = gaussian(1500, 64, seed=3), gaussian(1200, 64, seed=4, shift=0.2)
    precision, recall = precision_recall(real, fake)
    theirs = prc_features_to_metric(fake, real, verbose=False)  # generated first, then real
    assert 0.05 < precision < 0.95 and 0.05 < recall < 0.95
    assert (precision, recall) == pytest.approx((theirs["precision"], theirs["recall"]),
                                                abs=1e-6)


@pytest.mark.parametrize("size, channels", [(32, 3), (28, 1), (400, 3)])
def test_the_clean_fid_resize_equals_clean_fids_own(size, channels):
    rng = np.random.default_rng(size)
    images = rng.integers(0, 256, (3, size, size, channels), dtype=np.uint8)
    resize = make_resizer("PIL", False, "bicubic", (299, 299))
    rgb = np.repeat(images, 3, axis=3) if channels == 1 else images  # clean-fid reads as RGB
    theirs = np.stack([resize(image) for image in rgb])
    ours = clean_resize(torch.from_numpy(images).permute(0, 3, 1, 2), 299)
    ours = ours.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


def test_inception_runs_torch_fidelitys_network_on_float_images_and_gives_its_logits(tmp_path):
    """The clean-fid path (float 299x299 images into the layers) and ``classify`` agree with
    torch-fidelity's own forward and ``logits_unbiased`` (random weights: none to download)."""
    empty = tmp_path / "empty.pt"
    torch.save({}, empty)
    torch.manual_seed(0)
    with mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None):
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=str(empty))
    ours = InceptionFeatures(net, "0" * 64).eval()
    images = torch.randint(0, 256, (1, 3, 299, 299), dtype=torch.uint8)
    with torch.no_grad():
        features, unbiased = net(images)  # at 299x299 its resize changes nothing
        from_float = ours(images.float())
        assert torch.equal(ours(images), features)
        assert torch.equal(from_float, features)
        assert torch.allclose(ours.classify(from_float), unbiased, rtol=1e-5, atol=0)
