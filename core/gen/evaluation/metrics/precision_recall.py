"""Improved precision and recall (Kynkäänniemi et al. 2019).

Each set's manifold is the union of balls around its points, each with the radius of the
distance to the point's k-th nearest neighbour in the same set (k = 3). Precision is the
fraction of generated points inside the real manifold (how many samples look real); recall the
fraction of real points inside the generated manifold (how much of the data the model covers).

Written here with torch.cdist (a few dozen lines) rather than taken from a package: prdc, the
reference implementation, has been unmaintained since 2020 and pulls in scikit-learn, and
torchmetrics has no such metric.
"""

from __future__ import annotations

import torch

K = 3
CHUNK = 1024  # rows of the distance matrix held at once: memory stays O(CHUNK * N)


def knn_radii(points: torch.Tensor, k: int = K) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour among the others."""
    radii = []
    for start in range(0, points.shape[0], CHUNK):
        d = torch.cdist(points[start : start + CHUNK], points)
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, k])  # [:, 0] is itself
    return torch.cat(radii)


def inside_fraction(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    """The fraction of ``queries`` within ``radii[j]`` of some ``centres[j]``."""
    inside = 0
    for start in range(0, queries.shape[0], CHUNK):
        d = torch.cdist(queries[start : start + CHUNK], centres)
        inside += (d <= radii).any(dim=1).sum().item()
    return inside / queries.shape[0]


def precision_recall(
    real: torch.Tensor, fake: torch.Tensor, k: int = K, device: torch.device | str = "cpu"
) -> tuple[float, float]:
    """(precision, recall) of ``fake`` features against ``real`` ones; float32 on ``device``."""
    real = real.to(device, torch.float32)
    fake = fake.to(device, torch.float32)
    precision = inside_fraction(fake, real, knn_radii(real, k))
    recall = inside_fraction(real, fake, knn_radii(fake, k))
    return precision, recall
