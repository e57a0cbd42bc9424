"""What the torchvision-layout builders share: missing files (and downloads) and memory-mapped
arrays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from gen.data.request import DatasetRequest
from gen.errors import DataError

FETCH_HINT = "set data.download=true where the network allows, or place torchvision's files there"


def require(request: DatasetRequest, what: str, paths: list[Path],
            fetch: Callable[[], object]) -> None:
    """Raise `DataError` unless every path exists; with data.download on, ``fetch`` (which
    downloads through torchvision) runs first."""
    missing = [p for p in paths if not p.exists()]
    if missing and request.spec.download:
        request.log(f"{what}: downloading into {request.root}")
        try:
            fetch()
        except Exception as exc:  # urllib, gdown and torchvision raise many kinds
            raise DataError(
                f"{what}: the download into {request.root} failed ({type(exc).__name__}: {exc}); "
                "check the network, or place torchvision's files there by hand"
            ) from None
        missing = [p for p in paths if not p.exists()]
    if missing:
        how = "the download did not create it" if request.spec.download else FETCH_HINT
        raise DataError(f"{what} not found under {request.root} (expected {missing[0]}): {how}")


class MappedArray:
    """A read-only `numpy.memmap` opened on first use. It pickles as its file name and layout,
    never its bytes, so each DataLoader worker maps the file itself."""

    def __init__(self, path: Path, dtype: np.dtype, shape: tuple[int, ...], offset: int = 0,
                 order: str = "C"):
        self.path, self.dtype, self.shape, self.offset, self.order = (
            path, dtype, shape, offset, order)
        self._map: np.memmap | None = None

    def __getitem__(self, index: int) -> np.ndarray:
        if self._map is None:
            try:
                self._map = np.memmap(self.path, self.dtype, "r", self.offset, self.shape,
                                      self.order)
            except (OSError, ValueError) as exc:  # gone, or shorter than it was
                raise DataError(f"cannot read {self.path}: {exc}") from None
        return self._map[index]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_map": None}
