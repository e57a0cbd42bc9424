"""The stabilisation options every adversarial model has, independent of its objective and
backbone: conditioning, zero-centred gradient penalties (R1/R2), LeCam regularisation, separate
optimizers per network (TTUR) and adaptive discriminator augmentation (ADA). Pydantic only (no
torch): the fields are declared in `gen_gan.specs.AdversarialSpec`, their descriptions and the
checks of how they combine live here so specs.py stays readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

if TYPE_CHECKING:
    from gen_gan.specs import AdversarialSpec

Conditioning = Literal["none", "concat", "projection", "auxiliary"]

CONDITIONING_TEXT = (
    "how both networks see the class label y (labelled data needed unless none). The generator "
    "gets the one-hot label appended to z (and, on the resnet backbone, class-conditional batch "
    "norm in its blocks); the discriminator: none (unconditional), concat (the label joined to "
    "its input, Mirza & Osindero 2014: cgan), projection (Miyato & Koyama 2018: logit = "
    "psi(phi(x)) + <embed(y), phi(x)>, phi the penultimate features), auxiliary (a class head "
    "and its cross-entropy on real and fake added to both players' losses, Odena et al. 2017: "
    "acgan)"
)


def conditioning_field(default: str = "none"):
    return Field(default, description=CONDITIONING_TEXT)


R1_GAMMA = Field(0.0, ge=0, description=(
    "R1 (Mescheder et al. 2018, eq. 9): gamma/2 E||grad_x D(x)||^2 on real images, as the "
    "discriminator sees them (after any augmentation), added to its loss; 0 = off. StyleGAN2 "
    "uses 10 at 1024 px, 0.1 to 1 suits small images"))
R2_GAMMA = Field(0.0, ge=0, description=(
    "R2 (Mescheder et al. 2018): the same penalty on generated images; 0 = off"))
REG_EVERY = Field(1, ge=1, description=(
    "lazy regularisation (Karras et al. 2020, StyleGAN2 section 3.1): R1/R2 only on every k-th "
    "discriminator update, multiplied by k so its weight is unchanged on average; e.g. 16. "
    "Needs r1_gamma or r2_gamma"))
LECAM_WEIGHT = Field(0.0, ge=0, description=(
    "LeCam regularisation (Tseng et al. 2021, eq. 3), for little data: weight of "
    "E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2], a_real / a_fake exponential "
    "moving averages of D's mean output on real / fake images (checkpointed); 0 = off, the "
    "paper uses 0.3 (BigGAN) to 0.01"))
LECAM_DECAY = Field(0.99, gt=0, lt=1, description=(
    "decay of the LeCam anchors' moving averages (the first update sets them)"))
D_OPTIMIZER = Field(None, description=(
    "the discriminator's own optimizer (TTUR, Heusel et al. 2017: e.g. lr 4e-4 against the "
    "generator's 1e-4); null = model.optimizer"))
G_OPTIMIZER = Field(None, description=(
    "the generator's own optimizer; null = model.optimizer"))
ADA_TARGET = Field(None, gt=0, lt=1, description=(
    "adaptive discriminator augmentation (Karras et al. 2020, ADA): the target of the "
    "overfitting heuristic r_t = E[sign(D(x) - boundary)] on the real images the "
    "discriminator trains on (boundary: 0 for a logit, (a + b)/2 for lsgan). Every "
    "ada_interval discriminator updates p moves by sign(r_t - target) * (images seen) / "
    "(ada_kimg * 1000), within [0, 1]; each DiffAugment operation (brightness, saturation, "
    "contrast, translation, cutout) then applies to each real and fake image with probability "
    "p, in both players' updates. p starts at 0, is logged as ada_p and checkpointed. null = "
    "off; the paper's target is 0.6"))
ADA_INTERVAL = Field(4, ge=1, description=(
    "ADA: discriminator updates between adjustments of p (the paper: 4)"))
ADA_KIMG = Field(500.0, gt=0, description=(
    "ADA: thousands of real images over which p can move from 0 to 1 (the paper: 500; lower "
    "for short runs)"))


def stability_problems(spec: AdversarialSpec) -> list[tuple[str, str]]:
    """Combinations of these options with the objective (or each other) that make no sense,
    as (field, message) pairs naming both fields."""
    problems = []
    penalised = spec.r1_gamma > 0 or spec.r2_gamma > 0
    which = "model.r1_gamma" if spec.r1_gamma > 0 else "model.r2_gamma"
    if penalised and spec.name == "wgan":
        problems.append((which, "model.name wgan bounds its critic by clipping its weights "
                         "(model.clip); a gradient penalty on top fights the clipping: use "
                         "wgan-gp (its own penalty) or an unclipped objective (gan, hinge)"))
    if penalised and getattr(spec, "gp_weight", 0) > 0:
        problems.append((which, "model.name wgan-gp already holds the critic's gradient to norm "
                         "1 between real and fake (model.gp_weight); a zero-centred penalty "
                         "pulls the same gradients to 0. Set model.gp_weight=0 to replace its "
                         "penalty by R1/R2"))
    if spec.reg_every > 1 and not penalised:
        problems.append(("model.reg_every", "lazy regularisation spaces out R1/R2, but "
                         "model.r1_gamma and model.r2_gamma are both 0"))
    if spec.ada_target is not None and spec.name in ("wgan", "wgan-gp"):
        problems.append(("model.ada_target", f"ADA reads overfitting from the sign of D's "
                         f"output, and a critic (model.name {spec.name}) has no fixed "
                         "boundary: use an objective with one (gan, hinge, lsgan) or "
                         "model.diffaugment"))
    if spec.ada_target is not None and spec.diffaugment:
        problems.append(("model.ada_target", "model.diffaugment already augments every image "
                         "the discriminator sees; ADA augments them with an adaptive "
                         "probability: use one of the two"))
    return problems
