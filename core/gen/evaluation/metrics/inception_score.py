"""Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), high when each image is
confidently one class and the classes are varied.

By torch-fidelity's definition (``isc_features_to_metric``), the one its tables and
StudioGAN's use: the images are shuffled by NumPy's ``RandomState(2020)``, cut into 10 splits
at ``i * N // 10``, and each split scores exp of the mean KL between p(y|x) = softmax(logits)
and the split's mean p(y), in float64; the score is the mean over splits, with their
population std. The logits are the Inception's 1008 classes without the fc bias (torch-fidelity's
``logits_unbiased``), which the ``inception`` extractor's ``classify`` gives.
"""

from __future__ import annotations

import numpy as np
import torch

SPLITS = 10
SHUFFLE_SEED = 2020  # torch-fidelity's rng_seed


def inception_score(logits: torch.Tensor, splits: int = SPLITS) -> tuple[float, float]:
    """(mean, std) over ``splits`` of the Inception Score of ``logits`` (N, classes)."""
    n = logits.shape[0]
    order = torch.from_numpy(np.random.RandomState(SHUFFLE_SEED).permutation(n))
    logits = logits[order].double()
    p, log_p = logits.softmax(dim=1), logits.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        marginal = p[part].mean(dim=0, keepdim=True)
        kl = (p[part] * (log_p[part] - marginal.log())).sum(dim=1).mean()
        scores.append(kl.exp().item())
    return float(np.mean(scores)), float(np.std(scores))
