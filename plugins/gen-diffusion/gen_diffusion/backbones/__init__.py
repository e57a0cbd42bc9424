"""The networks of the diffusion family: one U-Net serves every model and every sampler."""

from __future__ import annotations

import gen
from gen_diffusion.backbones.unet import UNet
from gen_diffusion.specs import DiffusionSpec

__all__ = ["UNet", "build_unet"]


def build_unet(spec: DiffusionSpec, data: gen.DataInfo) -> UNet:
    """The U-Net of ``spec`` for ``data``'s images; a conditional spec needs labelled data."""
    if spec.conditional and data.num_classes is None:
        raise gen.DataError(f"model.conditional needs labelled data ({data.name} has no "
                            "labels); set model.conditional=false")
    return UNet(data.channels, data.image_size, width=spec.width, mults=tuple(spec.mults),
                res_blocks=spec.res_blocks,
                attention_resolutions=tuple(spec.attention_resolutions), dropout=spec.dropout,
                num_classes=data.num_classes if spec.conditional else None)
