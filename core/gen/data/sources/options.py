"""The options of the core's data sets (``data.options``): pydantic only, no torch, so a spec
is validated without importing a data set's reader (discovery and spec validation never
import torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gen.specs import StrictSpec


class FolderOptions(StrictSpec):
    """How image-folder fits images that are not square."""

    crop: Literal["center", "resize", "pad"] = Field(
        "center", description="non-square images: center (scale the short side, crop the "
        "middle), resize (stretch to a square) or pad (scale the long side, pad with black)"
    )


class NpzOptions(StrictSpec):
    """Names of the arrays, for files written before gen read them."""

    images_key: str = Field("images", description="name of the uint8 images array")
    labels_key: str = Field(
        "labels", description="name of the integer labels array; a file without it (unless "
        "set to another name) is unlabelled"
    )


class SvhnOptions(StrictSpec):
    """Which files make up the train split."""

    extra: bool = Field(
        False, description="the train split also holds the 531,131 less difficult images of "
        "extra_32x32.mat (about 2 GB in memory)"
    )


class Stl10Options(StrictSpec):
    """Which images make up the train split."""

    unlabeled: bool = Field(
        False, description="the train split is the 100,000 unlabelled images (unlabeled_X.bin) "
        "instead of the 5,000 labelled ones, the usual choice for unconditional models; the "
        "test split stays labelled"
    )


class CelebAOptions(StrictSpec):
    """How the non-square faces become square."""

    crop: Literal["center", "resize", "pad"] = Field(
        "center", description="center (scale the short side, crop the middle: the faces), "
        "resize (stretch to a square) or pad (scale the long side, pad with black)"
    )
