"""The spec of infogan. Pydantic only: `gen spec` and `gen list-models` stay torch-free."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

import gen


def _adam(lr: float) -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=lr, betas=(0.5, 0.999))


class InfoGANSpec(gen.ModelSpec):
    """Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
    Maximizing Generative Adversarial Nets", in its MNIST setup (sections 7.1-7.2, appendix C.1): a
    62-dim noise z, one 10-way categorical code and two continuous codes U(-1, 1); lambda 1 for
    the categorical code and a smaller one (0.1) for the continuous codes; Adam with lr 2e-4
    for D and 1e-3 for G. The networks are DCGAN-style convolutional stacks for any power-of-two
    image size from 8 to 64, not the paper's exact 28x28 layers. z is drawn from N(0, I).

    The recognition network Q is a head (FC-BN-LeakyReLU-FC) on the discriminator's
    convolutional body, so it costs almost nothing. Its loss L_I (cross-entropy for each
    categorical code plus the Gaussian negative log-likelihood of the continuous codes under
    Q's mean, with unit variance unless ``learn_std``) is minimised with the generator's
    optimizer, over the generator and the Q head; the shared body is trained by the
    discriminator's GAN loss only, unless ``info_trains_body`` adds L_I on the fakes to the
    discriminator's loss (as the authors' code does). The authors' MNIST launcher also drew
    z from U(-1, 1), used lambda 1 for every code and batches of 128.
    """

    name: Literal["infogan"] = "infogan"
    noise_dim: int = Field(62, gt=0, description="size of the incompressible noise z ~ N(0, I)")
    categorical_codes: list[Annotated[int, Field(ge=2)]] = Field(
        default_factory=lambda: [10],
        description="one categorical code (uniform, fed one-hot) per entry, with that many "
        "categories; [] for none",
    )
    continuous_codes: int = Field(
        2, ge=0, description="number of continuous codes, each ~ U(-1, 1)"
    )
    info_weight_categorical: float = Field(
        1.0, ge=0, description="lambda of the categorical codes' term of L_I"
    )
    info_weight_continuous: float = Field(
        0.1, ge=0, description="lambda of the continuous codes' term of L_I"
    )
    learn_std: bool = Field(
        False,
        description="Q also predicts a log standard deviation for each continuous code; "
        "default: the variance is fixed to 1, as in the authors' MNIST code",
    )
    info_trains_body: bool = Field(
        False,
        description="also minimise L_I (on the fakes) with the discriminator's optimizer, so "
        "the shared convolutional body learns for Q too; default: L_I updates only the "
        "generator and the Q head, with the generator's optimizer",
    )
    g_features: int = Field(64, gt=0, description="generator width at its last hidden layer")
    d_features: int = Field(64, gt=0, description="discriminator width at its first layer")
    q_hidden: int = Field(128, gt=0, description="width of the Q head's hidden layer")
    g_optimizer: gen.OptimizerSpec = Field(
        default_factory=lambda: _adam(1e-3),
        description="updates the generator and the Q head (GAN loss + L_I)",
    )
    d_optimizer: gen.OptimizerSpec = Field(
        default_factory=lambda: _adam(2e-4),
        description="updates the discriminator: body and real/fake head (GAN loss)",
    )

    data_defaults: ClassVar[dict] = {}
    train_defaults: ClassVar[dict] = {}

    @model_validator(mode="after")
    def _some_code(self):
        if not self.categorical_codes and self.continuous_codes == 0:
            raise ValueError("infogan needs at least one latent code: categorical_codes is "
                             "empty and continuous_codes is 0 (that is a plain GAN)")
        return self

    @property
    def latent_dim(self) -> int:
        """Size of the generator's input: z, the one-hot categorical codes, the continuous."""
        return self.noise_dim + sum(self.categorical_codes) + self.continuous_codes

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """data.image_size must be a power of two from 8 to 64 (4x4 doubled by each block)."""
        size = data.image_size
        if size < 8 or size > 64 or size & (size - 1):
            return [("data.image_size",
                     f"infogan needs a power of two from 8 to 64 (got {size})")]
        return []
