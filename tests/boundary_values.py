"""What the boundary sweep feeds gen: every integer edge, numbers and booleans written as text
where integers are expected, paths that are not what they seem, and Python values of the wrong
type. Kept apart from the tests so each sweep draws from the same pool."""

from __future__ import annotations

import math
import os
from pathlib import Path

from hypothesis import strategies as st

# Integers at every width a C type or a tensor's size might hold, their neighbours and beyond.
INT_EDGES = [0, -1, 1, 2, 3, 2**31 - 1, 2**31, 2**32, 2**32 + 1, 2**53 + 1, 2**63 - 1, 2**63,
             2**64, -2**31, -2**63, -2**64, 10**30, 10**100]
# What a shell or a config file might hold where a whole number is expected.
NOT_INTS = ["true", "false", "True", "nan", "-nan", "inf", "-inf", "Infinity", "1e308",
            "-1e308", "1e309", "1.5", "-0.0", "0.0", "2e9", "0x10", "0b1", "1_000", " 7", "7 ",
            "\u0663", "\u00b3", "", " ", "null", "None", "[]", "{}", "[1]", '"3"', "9" * 5000]

ints_as_text = st.sampled_from([str(i) for i in INT_EDGES]) | st.integers().map(str)
numbers_as_text = (ints_as_text | st.sampled_from(NOT_INTS)
                   | st.floats(allow_nan=True, allow_infinity=True).map(repr))
# Text a name or choice might be given: numbers, odd characters, bytes that are not UTF-8
# (as the OS hands them to Python: surrogate escapes), and one past any name limit.
odd_text = (numbers_as_text
            | st.sampled_from(["-", "--", "x\ny", "\t", "../x", "a:b", "a:b:c", ":", "*",
                               os.fsdecode(b"\xff\xfe"), "\u202e", "a" * 300])
            | st.text(max_size=12).filter(lambda s: "\x00" not in s))


def path_edges(world: Path) -> st.SearchStrategy[str]:
    """Paths as a user might mistype them, made inside ``world`` (see `make_world`): empty,
    under ``~``, a file where a folder is expected and a folder where a file is, a dangling
    link, a file under a file, names and paths past the OS's limits, bytes that are not
    UTF-8."""
    long_name = "n" * 256  # NAME_MAX is 255 bytes
    long_path = "/".join(["p" * 200] * 25)  # PATH_MAX is 4096
    return st.sampled_from([
        "", " ", ".", "..", "~", "~/x", "~/x.npz", "~/x.png", "~nosuchuser/x",
        str(world / "file.txt"), str(world / "file.txt" / "x.npz"), str(world / "folder"),
        str(world / "folder") + "/", str(world / "dangling"), str(world / "dangling.npz"),
        str(world / "link-to-folder"), long_name, long_name + ".npz", long_path,
        os.fsdecode(b"\xff\xfe.npz"), os.fsdecode(b"out-\xff"), "x.NPZ", "x.npz/", "x.",
        "new/deeper/x.npz", "-x.npz",
    ])


def make_world(world: Path) -> None:
    """The files `path_edges` names."""
    (world / "folder").mkdir(parents=True, exist_ok=True)
    (world / "file.txt").write_text("a user's file\n")
    (world / "dangling").symlink_to(world / "missing")
    (world / "dangling.npz").symlink_to(world / "missing.npz")
    (world / "link-to-folder").symlink_to(world / "folder")
    (world / "home").mkdir(exist_ok=True)


# The Python API: values of every type where a count, a seed or a name is expected.
python_values = (
    st.sampled_from(INT_EDGES) | st.integers()
    | st.sampled_from([True, False, None, math.nan, math.inf, -math.inf, 1e308, 0.5, -0.0,
                       "4", "", "nan", b"4", [4], (4,), {"n": 4}, 4 + 0j, object()])
    | st.floats(allow_nan=True, allow_infinity=True)
)
