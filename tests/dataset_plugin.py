"""A throwaway plugin of data sets for the core's tests (tests/test_dataset_plugins.py).

``checker``: small deterministic colour checkerboards made in memory, two named classes (red
and blue squares), an options class with one field (``count``) and a test split. The ``bad-*``
data sets each break one rule of the builder contract (gen.data.request); the item-level ones
go wrong at item 3 (items 0-2 are good), so an error must name that index.

Registration only at import: torch is imported by the builders, never at discovery.
"""

from pydantic import Field

import gen
from gen.specs import StrictSpec

CLASSES = ["red", "blue"]
SIZE = 8  # native image size
BAD_AT = 3  # the bad item of the item-level bad data sets
BAD_LEN = 8


class CheckerOptions(StrictSpec):
    """How many training squares (the test split has a quarter as many, at least 4)."""

    count: int = Field(48, gt=0, description="images in the train split")


@gen.hookimpl
def gen_register_datasets(register):
    register(name="checker", labelled=True, summary="Checkerboards of two colours (tests)",
             dataset="dataset_plugin:build_checker", options="dataset_plugin:CheckerOptions")
    register(name="bad-import", summary="its builder's module does not exist",
             dataset="dataset_plugin_no_such_module:build")
    register(name="bad-raises", summary="its builder raises RuntimeError",
             dataset="dataset_plugin:build_raises")
    register(name="bad-notdataset", summary="its builder returns an int",
             dataset="dataset_plugin:build_int")
    for kind in BAD_ITEMS:
        register(name=f"bad-{kind}", summary=f"item {BAD_AT} is wrong ({kind})",
                 dataset=f"dataset_plugin:build_{kind.replace('-', '_')}")


# -- checker ------------------------------------------------------------------------------------

def checker_image(split: str, index: int):
    """uint8 (3, SIZE, SIZE): 2x2 cells alternating a bright class colour and a dark one, the
    phase and brightness varying with the index; the left column is marked so that a mirrored
    image differs from the original."""
    import torch

    g = torch.Generator().manual_seed(index * 2 + (split == "test"))
    label = index % 2
    y, x = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    phase = int(torch.randint(0, 2, (), generator=g))
    on = ((y // 2 + x // 2 + phase) % 2 == 0)
    bright = int(torch.randint(180, 256, (), generator=g))
    image = torch.zeros(3, SIZE, SIZE, dtype=torch.uint8)
    channel = 0 if label == 0 else 2
    image[channel][on] = bright
    image[1, :, 0] = 90  # asymmetric: the left column is greenish
    return image


class Checker:
    """A map-style dataset (``__len__`` and ``__getitem__``), picklable for workers."""

    num_classes = 2
    classes = CLASSES

    def __init__(self, split: str, count: int):
        self.split = split
        self.count = count
        self.fingerprint = f"checker-v1-{split}-{count}"

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        if not 0 <= index < self.count:
            raise IndexError(index)
        return checker_image(self.split, index), index % 2

    def describe(self, index: int) -> str:
        return f"square {index} of {self.split}"


def build_checker(request):
    count = request.options.count
    if request.split == "test":
        count = max(4, count // 4)
    return Checker(request.split, count)


# -- bad data sets ------------------------------------------------------------------------------

def build_raises(request):
    raise RuntimeError("the checker factory is on fire")


def build_int(request):
    return 42


def _good(index: int):
    return checker_image("train", index)


class BadItems:
    """Eight items, two classes; item BAD_AT is ``bad(index)``."""

    num_classes = 2

    def __init__(self, kind: str):
        self.kind = kind

    def __len__(self) -> int:
        return BAD_LEN

    def __getitem__(self, index: int):
        if not 0 <= index < BAD_LEN:
            raise IndexError(index)
        if index != BAD_AT:
            return _good(index), index % 2
        return BAD_ITEMS[self.kind](index)

    def describe(self, index: int) -> str:
        return f"bad-{self.kind} #{index}"


def _numpy(index):
    return _good(index).numpy(), 0


def _list(index):
    return _good(index).tolist(), 0


def _float(index):
    return _good(index).float() / 255, 0


def _two_d(index):
    return _good(index)[0], 0


def _four_channels(index):
    import torch

    return torch.cat([_good(index), _good(index)[:1]]), 0


def _label(index):
    return _good(index), BadItems.num_classes  # one past the last class


BAD_ITEMS = {"type": _numpy, "list": _list, "dtype": _float, "shape": _two_d,
             "channels": _four_channels, "label": _label}


def build_type(request):
    return BadItems("type")


def build_list(request):
    return BadItems("list")


def build_dtype(request):
    return BadItems("dtype")


def build_shape(request):
    return BadItems("shape")


def build_channels(request):
    return BadItems("channels")


def build_label(request):
    return BadItems("label")
