"""Training-health rules (gen.training.health) on made-up logs, and in real (toy) training:
gradient norms in every log record, class coverage at each evaluation, warnings on the
console and in metrics.jsonl."""

import json

import pytest
import torch

import gen
from gen.training.health import HealthMonitor, HealthRules


def _line(step, acc_fake=0.6, g=1.0, d=1.0, **more):
    return {"step": step, "d_loss": 1.2, "g_loss": 0.8, "d_acc_real": 0.7,
            "d_acc_fake": acc_fake, "grad_norm/generator": g, "grad_norm/discriminator": d, **more}


def _feed(monitor, lines):
    return [(line["step"], w) for line in lines for w in monitor.observe(line)]


def test_a_winning_discriminator_warns_once_after_its_window():
    rules = HealthRules()
    early = [_line(s, d=10.0) for s in range(1, rules.early_records + 1)]
    won = [_line(s, acc_fake=1.0, d=0.05) for s in range(10, 10 + 2 * rules.window)]
    warnings = _feed(HealthMonitor(), early + won)
    assert [(step, w["rule"]) for step, w in warnings] == [
        (10 + rules.window - 1, "discriminator-winning")]
    message = warnings[0][1]["message"]
    assert "discriminator is winning" in message and "100.0% of fakes" in message


def test_the_generators_gradient_vanishing_also_counts_and_recovery_rearms_the_rule():
    rules = HealthRules()
    early = [_line(s, g=5.0) for s in range(1, rules.early_records + 1)]
    won = [_line(s, acc_fake=1.0, g=0.01) for s in range(10, 10 + rules.window)]
    healthy = [_line(s) for s in range(20, 23)]
    again = [_line(s, acc_fake=1.0, g=0.01) for s in range(30, 30 + rules.window)]
    steps = [step for step, _ in _feed(HealthMonitor(), early + won + healthy + again)]
    assert steps == [10 + rules.window - 1, 30 + rules.window - 1]


@pytest.mark.parametrize("change", [
    {"acc_fake": 0.95, "d": 0.05},  # fakes not all rejected
    {"acc_fake": 1.0},  # rejected, but both gradients are their early size
])
def test_no_discriminator_warning_unless_both_signs_hold(change):
    early = [_line(s) for s in range(1, 6)]
    later = [_line(s, **change) for s in range(10, 40)]
    assert _feed(HealthMonitor(), early + later) == []


def test_records_without_the_adversarial_keys_never_warn_of_a_winning_discriminator():
    lines = [{"step": s, "nll": 90.0 - s * 0.01, "grad_norm/net": 1.0} for s in range(1, 50)]
    assert _feed(HealthMonitor(), lines) == []


def test_a_jump_in_a_gradient_norm_warns_of_blow_up_but_noise_does_not():
    noisy = [_line(s, g=1.0 + 0.5 * (s % 3), d=2.0 + (s % 4)) for s in range(1, 40)]
    assert _feed(HealthMonitor(), noisy) == []
    jump = _feed(HealthMonitor(), [*noisy, _line(40, d=900.0)])
    assert [(step, w["rule"]) for step, w in jump] == [(40, "blow-up")]
    assert "grad_norm/discriminator is 900" in jump[0][1]["message"]
    assert jump[0][1]["values"] == {"grad_norm/discriminator": 900.0}


def test_a_score_that_crosses_zero_is_not_read_as_a_blow_up():
    lines = [{"step": s, "wasserstein": 0.001 * (-1) ** s} for s in range(1, 20)]
    lines.append({"step": 20, "wasserstein": 3.0})
    assert _feed(HealthMonitor(), lines) == []


def _coverage(step, covered, kl=0.05, spread=0.9):
    return {"step": step, "coverage": {"classes_covered": covered, "num_classes": 10, "kl": kl,
                                       "feature_spread": spread}}


@pytest.mark.parametrize("records, why", [
    ([_coverage(100, 1, kl=2.3, spread=0.02)], "cover 1 of 10 classes"),
    ([_coverage(100, 10), _coverage(200, 8)], "coverage fell from 10 to 8"),
    ([_coverage(100, 10, kl=0.9)], "KL from the data's class frequencies is 0.90"),
    ([_coverage(100, 10, spread=0.3)], "spread 0.3x"),
])
def test_coverage_rules_warn_of_mode_collapse(records, why):
    warnings = _feed(HealthMonitor(), records)
    assert [w["rule"] for _, w in warnings] == ["mode-collapse"]
    assert why in warnings[0][1]["message"]


def test_healthy_coverage_does_not_warn():
    assert _feed(HealthMonitor(), [_coverage(s, 10) for s in (100, 200, 300)]) == []


# --- in training -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gen-cache")  # one lenet for the module


@pytest.fixture
def plugins(toy_plugins, cache, monkeypatch):
    """The toy models and gen-core's extractors (the coverage classifier is lenet)."""
    monkeypatch.setenv("GEN_CACHE", str(cache))
    toy_plugins.add_core()
    return toy_plugins


def _train(tmp_path, **overrides):
    settings = {"train.steps": 40, "train.log_every": 10, "train.checkpoint_every": 1000,
                "train.sample_every": 1000, "train.device": "cpu"}
    return gen.train("toy", overrides=settings | overrides, out=tmp_path / "run", progress=False)


def test_every_log_record_carries_each_optimizers_gradient_norm(tmp_path, plugins):
    records = [r for r in _train(tmp_path).metrics() if "d_loss" in r]
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    for record in records:
        norms = {k: v for k, v in record.items() if k.startswith("grad_norm/")}
        assert set(norms) == {"grad_norm/generator", "grad_norm/discriminator"}
        assert all(v > 0 for v in norms.values())


def test_a_generator_forced_to_one_image_triggers_the_collapse_warning(
        tmp_path, plugins, monkeypatch, capsys):
    import toy_plugin.model

    original = toy_plugin.model.Generator.forward
    one_image = torch.zeros(1, 1, 8, 8)
    one_image[..., 2:6, 3:5] = 1.0  # a bar: some digit class, the same for every sample

    def constant(self, z, y=None):
        out = original(self, z, y)  # keeps the graph, so training still runs
        return out * 0 + one_image.expand_as(out)

    monkeypatch.setattr(toy_plugin.model.Generator, "forward", constant)
    # evaluations at 60 (inside the warm-up: no verdict yet) and 120
    run = _train(tmp_path, **{"train.steps": 120, "train.eval_every": 60, "train.eval_n": 200})
    records = run.metrics()
    coverage = [r["coverage"] for r in records if "coverage" in r]
    assert [c["classes_covered"] for c in coverage] == [1, 1]
    assert coverage[0]["feature_spread"] < 0.01 and coverage[0]["kl"] > 1.0
    warnings = [r for r in records if "warning" in r]
    assert [(r["step"], r["warning"]["rule"]) for r in warnings] == [(120, "mode-collapse")]
    assert "possible mode collapse" in capsys.readouterr().err
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    assert any(json.loads(line).get("warning") for line in lines)


def test_a_generator_that_draws_the_data_itself_covers_every_class_without_warnings(
        tmp_path, plugins, monkeypatch):
    """A perfect generator stand-in (it returns real training images, picked by its latents):
    every class covered, spread and class frequencies as the data's, so no warning. The
    warning above thus comes from the constant image, not from the set-up."""
    import toy_plugin.model

    from gen.data.datasets import load_dataset
    from gen.specs import DataSpec

    real = load_dataset(DataSpec(image_size=8)).images.float() / 127.5 - 1
    original = toy_plugin.model.Generator.forward

    def data(self, z, y=None):
        out = original(self, z, y)
        pick = (z[:, 0].abs() * 1e6).long() % real.shape[0]
        return out * 0 + real[pick]

    monkeypatch.setattr(toy_plugin.model.Generator, "forward", data)
    run = _train(tmp_path, **{"train.eval_every": 20, "train.eval_n": 500})
    coverage = [r["coverage"] for r in run.metrics() if "coverage" in r]
    assert [c["classes_covered"] for c in coverage] == [10, 10]
    assert all(0.8 < c["feature_spread"] < 1.25 and c["kl"] < 0.1 for c in coverage)
    assert not [r for r in run.metrics() if "warning" in r]


class _Picker(gen.Model):
    """A conditional stand-in that draws real test images: of the class asked for, or (with
    ``ignore_labels``) of any class. No training; only `sample` is used."""

    def __init__(self, data, ignore_labels=False):
        from gen.data.info import DataInfo

        info = DataInfo("bundled-mnist", 1, 8, num_classes=10, num_images=len(data.labels))
        super().__init__(None, info)
        self.images = data.images.float() / 127.5 - 1
        self.by_class = [torch.nonzero(data.labels == c).flatten() for c in range(10)]
        self.ignore_labels = ignore_labels

    @property
    def conditional(self):
        return True

    def train_step(self, next_batch):
        raise NotImplementedError

    def sample(self, n, labels=None, generator=None):
        picks = []
        for i, label in enumerate(labels.tolist()):
            pool = self.by_class[(label + 1 + i % 9) % 10 if self.ignore_labels else label]
            picks.append(pool[torch.randint(len(pool), (), generator=generator)])
        return self.images[torch.stack(picks)]


@pytest.mark.parametrize("ignore_labels", [False, True])
def test_label_accuracy_says_whether_a_conditional_model_honours_its_label(
        plugins, ignore_labels):
    from gen.data.datasets import load_dataset
    from gen.evaluation.coverage import CoverageProbe
    from gen.specs import DataSpec

    spec = DataSpec(image_size=8)
    test = load_dataset(spec.model_copy(update={"split": "test"}))
    model = _Picker(test, ignore_labels)
    probe = CoverageProbe(spec, test, model, n=500)
    coverage = probe.measure(model, seed=0)
    assert coverage["classes_covered"] == 10  # every class drawn either way
    accuracy = probe.classifier.details["test_accuracy"]
    if ignore_labels:
        assert coverage["label_accuracy"] < 0.2
    else:  # as good as the classifier reads real images of that class
        assert coverage["label_accuracy"] > accuracy - 0.1


def test_tiny_values_growing_are_not_a_blow_up():
    """A discriminator that has won drives its loss to ~1e-14; 1e-10 is not a blow-up."""
    lines = [{"step": s, "d_loss": 3e-14} for s in range(1, 12)] + [{"step": 12, "d_loss": 4e-10}]
    assert _feed(HealthMonitor(), lines) == []


def test_a_critic_score_that_changes_sign_is_not_a_blow_up_but_a_one_signed_loss_is():
    crossing = [{"step": s, "g_loss": 0.3 * (-1) ** s} for s in range(1, 12)]
    assert _feed(HealthMonitor(), [*crossing, {"step": 12, "g_loss": -40.0}]) == []
    negative = [{"step": s, "d_loss": -0.3} for s in range(1, 12)]  # a critic's -W, say
    jump = _feed(HealthMonitor(), [*negative, {"step": 12, "d_loss": -40.0}])
    assert [w["rule"] for _, w in jump] == ["blow-up"]


def test_an_fp16_step_skipped_for_overflow_neither_warns_nor_spoils_the_early_median():
    overflowed = [_line(s, g=float("inf"), d=float("inf")) for s in range(1, 4)]  # fp16's start
    early = overflowed + [_line(s, d=10.0) for s in range(4, 9)]
    healthy_but_rejected = [_line(s, acc_fake=1.0, d=8.0) for s in range(10, 20)]
    assert _feed(HealthMonitor(), early + healthy_but_rejected) == []


def test_replaying_a_log_on_resume_leaves_the_rules_as_an_uninterrupted_run_has_them():
    """Evaluation and warning records are not training lines: replaying them (as a resumed run
    does) must not re-arm a rule that had fired."""
    lines = [_line(s, d=2.0) for s in range(1, 12)] + [_line(12, d=900.0)]
    live = HealthMonitor()
    fired = _feed(live, lines)
    assert [w["rule"] for _, w in fired] == ["blow-up"]
    log = [*lines, {"step": 12, "warning": fired[0][1]},
           {"step": 12, "evaluation": {"metric": "fid", "value": 9.0}}]
    resumed = HealthMonitor()
    _feed(resumed, log)
    still_high = _line(13, d=900.0)
    assert live.observe(still_high) == resumed.observe(still_high) == []


@pytest.mark.parametrize("record", [
    {"step": 5, "coverage": {}}, {"step": 5, "coverage": {"classes_covered": "ten"}},
    {"step": 5, "coverage": {"classes_covered": 1, "num_classes": 10, "kl": None}},
    {"step": 5, "d_acc_fake": "high", "grad_norm/generator": 1.0,
     "grad_norm/discriminator": 1.0},
    {"step": 5, "d_loss": [1, 2]}, {"step": 5, "grad_norm/x": True}])
def test_a_damaged_log_line_replayed_on_resume_is_passed_over(record):
    monitor = HealthMonitor()
    _feed(monitor, [_line(s) for s in range(1, 7)])
    assert monitor.observe(record) == []


def test_no_collapse_verdict_before_the_warm_up():
    """A generator at step 40 is untrained, not collapsed: coverage of 1 class then says
    nothing; the same record after the warm-up warns."""
    assert _feed(HealthMonitor(), [_coverage(40, 1, kl=2.3, spread=0.02)]) == []
    late = _feed(HealthMonitor(), [_coverage(40, 1, kl=2.3), _coverage(200, 1, kl=2.3)])
    assert [(step, w["rule"]) for step, w in late] == [(200, "mode-collapse")]


@pytest.mark.parametrize(("model", "kind", "advice", "never"), [
    ("wgan-gp", "adversarial", "try lsgan", "wgan-gp"),
    ("lsgan", "adversarial", "try wgan-gp", "lsgan"),
    ("ddpm", "diffusion", "train longer", "wgan-gp"),
])
def test_collapse_advice_fits_the_model(model, kind, advice, never):
    warnings = _feed(HealthMonitor(model=model, kind=kind), [_coverage(200, 1, kl=2.3)])
    message = warnings[0][1]["message"]
    assert advice in message and f"try {never}" not in message and f"or {never}" not in message


def test_a_winning_critic_is_not_told_to_try_wgan_gp():
    rules = HealthRules()
    early = [_line(s, d=10.0) for s in range(1, rules.early_records + 1)]
    won = [_line(s, acc_fake=1.0, d=0.05) for s in range(10, 10 + rules.window)]
    warnings = _feed(HealthMonitor(model="wgan-gp", kind="adversarial"), early + won)
    assert "critic" in warnings[0][1]["message"] and "wgan-gp" not in warnings[0][1]["message"]
