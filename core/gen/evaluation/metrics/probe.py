"""Linear probe: how linearly separable the classes are in an encoder's features.

A multinomial logistic regression is fitted on the training part's features (standardised,
full-batch L-BFGS, a little L2) and scored on the held-out part, so encoders of different runs
can be compared by one number.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def linear_probe_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    l2: float = 1e-3,
    steps: int = 200,
) -> float:
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xs, xt = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    weight = torch.zeros(xs.shape[1], classes, dtype=xs.dtype, requires_grad=True)
    bias = torch.zeros(classes, dtype=xs.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xs @ weight + bias, train_y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (xt @ weight + bias).argmax(1).eq(test_y).double().mean().item()
