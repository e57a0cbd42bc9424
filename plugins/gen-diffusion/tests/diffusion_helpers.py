"""Tiny models built directly from their specs, for tests that need no run."""

import gen
from gen_diffusion.ddpm import DDPM
from gen_diffusion.flow_matching import FlowMatching
from gen_diffusion.specs import DDPMSpec, FlowMatchingSpec

SMALL = {"width": 8, "mults": [1, 2], "attention_resolutions": [4]}


def data_info(size: int = 8, channels: int = 1, num_classes: int | None = None,
              binary: bool = False) -> gen.DataInfo:
    return gen.DataInfo(name="toy", channels=channels, image_size=size, num_classes=num_classes,
                        num_images=64, binary=binary)


def _optimizer(lr):
    return {} if lr is None else {"optimizer": {"name": "adam", "lr": lr}}


def ddpm(info: gen.DataInfo | None = None, lr: float | None = None, **fields) -> DDPM:
    spec = DDPMSpec(**{**SMALL, **_optimizer(lr), **fields})
    return DDPM(spec, info or data_info(num_classes=10 if spec.conditional else None))


def flow(info: gen.DataInfo | None = None, lr: float | None = None, **fields) -> FlowMatching:
    spec = FlowMatchingSpec(**{**SMALL, **_optimizer(lr), **fields})
    return FlowMatching(spec, info or data_info(num_classes=10 if spec.conditional else None))
