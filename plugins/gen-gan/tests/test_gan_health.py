"""The core's training-health rules on real adversarial training (docs/health.md): a
discriminator made to win (the generator's learning rate 0) is reported; the same run with
both players learning is not. Tiny stand-ins for the 2,000-step run the rules were
calibrated on."""

import gen
from gen.training import loop

SETTINGS = {"train.steps": 150, "train.log_every": 5, "train.batch_size": 32,
            "train.device": "cpu", "train.sample_every": 10**6, "train.checkpoint_every": 10**6,
            "data.image_size": 16, "model.g_features": 8, "model.d_features": 8,
            "model.optimizer.lr": 2e-3}


def _train(tmp_path, monkeypatch, frozen_generator: bool):
    if frozen_generator:
        build = loop.build_model

        def frozen(info, spec, data):
            model = build(info, spec, data)
            for group in model.optimizers["generator"].param_groups:
                group["lr"] = 0.0
            return model

        monkeypatch.setattr(loop, "build_model", frozen)
    return gen.train("dcgan", overrides=SETTINGS, out=tmp_path / "run", progress=False)


def _warnings(run):
    return [r["warning"] for r in run.metrics() if "warning" in r]


def test_a_discriminator_that_wins_is_reported(tmp_path, monkeypatch, capsys):
    run = _train(tmp_path, monkeypatch, frozen_generator=True)
    warnings = _warnings(run)
    assert [w["rule"] for w in warnings] == ["discriminator-winning"]
    assert warnings[0]["values"]["d_acc_fake"] >= 0.99
    assert "the discriminator is winning" in capsys.readouterr().err


def test_the_same_run_with_both_players_learning_is_not(tmp_path, monkeypatch):
    run = _train(tmp_path, monkeypatch, frozen_generator=False)
    assert _warnings(run) == []
    logged = [r for r in run.metrics() if "d_loss" in r]
    assert all({"grad_norm/generator", "grad_norm/discriminator", "d_acc_real", "d_acc_fake"}
               <= set(r) for r in logged)
