"""Where sample quality is computed: a *space*, and the reference images of a split.

The quality metrics are computed in a *space*: by default the run's own data (its reference
split, an extractor trained on its train part), which differs between runs of other image sizes
or binarisation, so their scores cannot be compared. A common space (a preset of `SPACES`, or any
data spec) puts every model in one: its reference images, one extractor built for that data,
and generated images converted to its shape (`gen.evaluation.quality.Conversion`).
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from gen.data.datasets import held_out
from gen.errors import GenError, UsageError
from gen.paths import user_path
from gen.specs import DataSpec, render_errors

RUN_SPACE = "run"  # the run's own data: its reference split and an extractor trained on it
SPACES: dict[str, DataSpec] = {
    # MNIST's grey 28x28 digits as they come: what the GANs' images (32x32) are resized to and
    # the binarised models' draws ({0, 255} pixels) are compared with as they are.
    "mnist-grey-28": DataSpec(dataset="bundled-mnist", image_size=28, channels=1),
}


def reference_spec(data: DataSpec, reference: str, channels: int,
                   limit: int | None = None) -> DataSpec:
    """The data spec of ``reference``: a split of the run's data set (dynamic binarisation
    becomes the fixed static draw), or a folder of images read as ``image-folder`` at the run's
    image size and channels."""
    if reference in ("test", "train"):
        return held_out(data, reference, limit)
    check_reference(reference)
    folder = user_path(reference, "--reference")
    if not folder.is_dir():
        raise GenError(
            f"--reference must be 'test', 'train' or a folder of images; {reference!r} is "
            "neither"
        )
    return held_out(data, "test", limit).model_copy(
        update={"dataset": "image-folder", "root": str(folder), "channels": channels}
    )


def check_reference(reference: str) -> None:
    """An empty ``reference`` is a `UsageError`: read as a path it would be the current
    folder, which no one chose."""
    if not reference.strip():
        raise UsageError("--reference is empty: name 'test', 'train' or a folder of images "
                         "(. for the current folder)")


def parse_space(text: str) -> DataSpec | None:
    """The data spec of the space ``text`` names: None for ``"run"`` (the run's own data), a
    preset of `SPACES`, or a JSON object of data spec fields such as
    ``{"dataset": "bundled-mnist", "image_size": 28, "channels": 1}``."""
    if text == RUN_SPACE:
        return None
    if text in SPACES:
        return SPACES[text]
    expected = f"expected '{RUN_SPACE}', {', '.join(map(repr, SPACES))} or a JSON data spec"
    if not text.lstrip().startswith("{"):
        raise UsageError(f"--space: unknown space {text!r}; {expected}")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:  # malformed, too deep, too long a number
        raise UsageError(f"--space: not valid JSON ({str(exc).split(';')[0]:.200}); "
                         f"{expected}") from None
    try:
        return DataSpec.model_validate(raw)
    except ValidationError as exc:
        path, message = render_errors(exc)[0]
        raise UsageError(f"--space: data.{path}: {message}") from None
