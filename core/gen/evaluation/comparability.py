"""Warnings for scores that are not what they seem: an FID of too few images, and scores
beside earlier ones at another n.

FID fits a Gaussian to D-dimensional features: with n <= D images the covariance has rank at
most n - 1 < D, the matrix square root of its product with the other covariance is ill-posed,
and the number is dominated by which n images were drawn, not by the model. FID (and
precision, recall and the IS) also depend on n itself (Chong & Forsyth 2020), so scores at
different n do not rank models; KID is unbiased and is left out of that comparison. Each is
one `GenWarning` line, and nothing is refused: a quick look at a small n is legitimate.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from gen.errors import GenWarning

N_DEPENDENT = ("fid", "precision", "recall", "is")
SAME = ("metric", "extractor", "extractor_hash", "fid_convention", "space")


def warn_rank_deficient(extractor: str, dim: int, **images: int) -> None:
    """Warn when any of ``images`` (by side: ``generated=400, reference=400``) is at most
    ``dim``, the width of ``extractor``'s features."""
    small = [f"{side.replace('_', ' ')} {n}" for side, n in images.items() if n <= dim]
    if not small:
        return
    warnings.warn(GenWarning(
        f"fid: {', '.join(small)} images in {extractor}'s {dim} feature dimensions: at n <= "
        f"{dim} the covariance is rank-deficient and FID is not meaningful; use -n "
        f"{dim + 1} or more (a reference of more than {dim} images too)"), stacklevel=2)


def warn_record(record: dict[str, Any], dim: int) -> None:
    """`warn_rank_deficient` for an FID record: its generated and reference images and,
    where it has one, its floor's draws."""
    floor = {"floor_draws": record["floor"]["n"]} if "floor" in record else {}
    warn_rank_deficient(record["extractor"], dim, generated=record["generated_images"],
                        reference=record["real_images"], **floor)


def warn_mixed_n(history: Iterable[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """Warn when a new record of an n-dependent metric sits beside earlier ones in a run's
    metrics.jsonl (``history``: its lines) of the same metric, extractor, weights, convention
    and space, but at another number of generated or reference images."""
    earlier = [line["evaluation"] for line in history
               if isinstance(line.get("evaluation"), dict)]
    for record in records:
        if record["metric"] not in N_DEPENDENT or "generated_images" not in record:
            continue
        key, n = _key(record), _n(record)
        others = [_n(e) for e in earlier if _key(e) == key and _n(e) != n]
        if not others:
            continue
        at = ", ".join(f"n {g} (real {r})" for g, r in dict.fromkeys(others))
        warnings.warn(GenWarning(
            f"{record['metric']} at n {n[0]} (real {n[1]}) beside earlier "
            f"{record['metric']} scores of this run at {at}, with the same extractor: scores "
            f"at different n are not comparable ({record['metric']} depends on n); score "
            f"with -n {others[-1][0]} to compare with the latest"), stacklevel=2)


def _key(record: dict[str, Any]) -> tuple:
    return tuple(str(record.get(k)) for k in SAME)


def _n(record: dict[str, Any]) -> tuple[int | None, int | None]:
    return tuple(v if isinstance(v, int) else None
                 for v in (record.get("generated_images"), record.get("real_images")))
