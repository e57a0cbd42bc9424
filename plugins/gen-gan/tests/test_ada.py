"""Adaptive discriminator augmentation (model.ada_target, Karras et al. 2020): p follows the
overfitting heuristic, the operations apply with probability p, p is logged and resumes."""

import json

import pytest
import torch
from gan_helpers import Batches, tiny_model

from gen.testing import ModelConformance
from gen_gan.ada import AdaptiveAugment


def test_p_rises_every_interval_while_d_overfits_a_stand_in():
    """D(x) > 0 on every real image: r_t = 1 > target, so every ``interval`` updates p grows
    by (batch * interval) / (kimg * 1000), and not in between."""
    ada = AdaptiveAugment(target=0.6, interval=4, kimg=0.32)  # 32 images -> +0.1
    history = []
    for _ in range(12):
        ada.observe(torch.full((8,), 2.5))
        history.append(ada.p.item())
    assert history[:3] == [0, 0, 0]
    assert history[3] == pytest.approx(0.1) and history[6] == pytest.approx(0.1)
    assert history[7] == pytest.approx(0.2) and history[11] == pytest.approx(0.3)


def test_p_falls_when_d_does_not_overfit_and_stays_within_0_and_1():
    ada = AdaptiveAugment(target=0.6, interval=1, kimg=0.016)  # 8 images -> 0.5
    ada.p.fill_(0.7)
    ada.observe(torch.tensor([1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, 1.0]))  # r_t = 0.25 < 0.6
    assert ada.p.item() == pytest.approx(0.2)
    ada.observe(torch.full((8,), -1.0))
    assert ada.p.item() == 0  # clamped at 0
    for _ in range(4):
        ada.observe(torch.full((8,), 1.0))
    assert ada.p.item() == 1  # clamped at 1


def test_the_sign_is_read_from_the_objectives_boundary():
    ada = AdaptiveAugment(target=0.6, interval=1, kimg=0.08, boundary=0.5)  # lsgan (a+b)/2
    ada.observe(torch.full((8,), 0.4))  # positive, but below the boundary: not overfitting
    assert ada.p.item() == 0
    ada.observe(torch.full((8,), 0.6))
    assert ada.p.item() == pytest.approx(0.1)


def test_operations_apply_with_probability_p_and_draw_the_same_numbers_whatever_p():
    x = torch.rand(64, 3, 16, 16) * 2 - 1
    ada = AdaptiveAugment(target=0.6)
    torch.manual_seed(0)
    assert torch.equal(ada.augment(x), x)  # p = 0: every image as it was
    after_zero = torch.get_rng_state()
    ada.p.fill_(1.0)
    torch.manual_seed(0)
    changed = (ada.augment(x) != x).flatten(1).any(1)
    assert changed.all()
    assert torch.equal(torch.get_rng_state(), after_zero)
    ada.p.fill_(0.5)
    torch.manual_seed(1)
    share = (ada.augment(x) != x).flatten(1).any(1).float().mean().item()
    assert 0.8 < share < 1.0  # 1 - 0.5^5 = 0.97 of the images see at least one operation


def test_the_model_raises_p_when_d_calls_every_real_image_real(monkeypatch):
    torch.manual_seed(0)
    model = tiny_model("hinge", ada_target=0.6, ada_interval=2, ada_kimg=0.016)
    scores = model.scores
    monkeypatch.setattr(model, "scores", lambda x, y: (scores(x, y)[0] * 0 + 5, None))
    logs = [model.train_step(Batches())["ada_p"].item() for _ in range(4)]
    assert logs == pytest.approx([0, 1.0, 1.0, 1.0])  # +16/16 after 2 updates, clamped
    monkeypatch.setattr(model, "scores", lambda x, y: (scores(x, y)[0] * 0 - 5, None))
    model.ada.p.fill_(0.75)
    logs = [model.train_step(Batches())["ada_p"].item() for _ in range(2)]
    assert logs == pytest.approx([0.75, 0.0])
    assert "ada" in model.modules and set(model.modules["ada"].state_dict()) == {
        "p", "signs", "seen", "updates"}


class TestHingeWithADA(ModelConformance):
    """The kit with ADA on and p moving every update (a tiny ada_kimg): resume is bit-identical
    with p and its accumulator in the checkpoint, and every log line carries ada_p."""

    model = "hinge"
    plugin_module = "gen_gan"
    tiny = {"model.g_features": 4, "model.d_features": 4, "model.latent_dim": 8,
            "data.image_size": 16, "model.ada_target": 0.6, "model.ada_interval": 1,
            "model.ada_kimg": 0.05}

    def test_every_log_line_has_ada_p(self, tiny_run):
        lines = [json.loads(line) for line in
                 tiny_run.run.metrics_path.read_text().splitlines()]
        assert lines and all("ada_p" in line for line in lines)
        assert lines[-1]["ada_p"] > 0  # p moved, so resume compared a p that is not 0


class _TwoProcesses:
    """A stand-in `World` of two processes whose other process saw ``other`` (its values of
    the same keys): `mean` averages over both, as an all-reduce would."""

    size = 2

    def __init__(self, other):
        self.other = other

    def mean(self, values):
        return {k: (v + self.other[k]) / 2 for k, v in values.items()}


def test_ada_counts_the_signs_of_every_process():
    """Under --nproc p moves on the statistic of all processes' real images: here this process
    sees only positive scores, the other only negative ones, so r_t = 0 < target and p falls
    (stays at 0), where this process alone would have raised it."""
    from gen_gan.ada import AdaptiveAugment

    alone, shared = AdaptiveAugment(0.6, interval=1), AdaptiveAugment(0.6, interval=1)
    scores = torch.full((8,), 5.0)
    alone.observe(scores)
    shared.observe(scores, _TwoProcesses({"signs": torch.tensor(-8.0),
                                          "seen": torch.tensor(8.0)}))
    assert alone.p.item() > 0 and shared.p.item() == 0


def test_lecam_anchors_are_the_mean_over_every_process():
    from gen_gan.regularizers import LeCam

    lecam = LeCam(decay=0.5)
    lecam.update(torch.full((4,), 2.0), torch.full((4,), -2.0),
                 _TwoProcesses({"real": torch.tensor(0.0), "fake": torch.tensor(0.0)}))
    assert lecam.anchor_real.item() == 1.0 and lecam.anchor_fake.item() == -1.0
