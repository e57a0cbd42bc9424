"""What gen offers a model follows from what its class implements, never from its ``kind``.

| capability | the class implements | what it enables |
|---|---|---|
| ``sample`` | ``sample`` | gen sample; fid, kid, precision, recall, is |
| ``temperature`` | ``sample(..., temperature=...)`` | gen sample --temperature |
| ``truncation`` | ``latent``, ``generate``, ``truncatable_latent`` | sample/evaluate --truncation |
| ``latent-interpolation`` | ``latent`` and ``generate`` | --interpolate (slerp), Run.interpolate |
| ``steps`` | ``samplers`` (iterative models) | --sampler, --steps (and --eta) on sample, evaluate |
| ``guidance`` | ``sample(..., guidance=...)`` | --guidance on sample, evaluate (conditional) |
| ``nll`` | ``log_prob``, ``likelihood`` | --metrics nll (elbo for a bound), eval_metric=nll |
| ``iw-nll`` | ``iw_log_prob`` | nll as an importance-weighted estimate |
| ``encode`` | ``encode`` | gen encode, --metrics probe |
| ``reconstruct`` | ``encode`` and ``decode`` | gen sample --reconstruct, --interpolate |

`check_model_class` validates a class when it is loaded; `require` turns a missing capability
into an error that names the method which would provide it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from gen.errors import GenError

LIKELIHOODS = ("exact", "lower-bound")
SAMPLER_OPTIONS = ("steps", "eta")  # what a sampler may take besides its name

# capability -> (the members that provide it, what they enable)
CAPABILITIES: dict[str, tuple[tuple[str, ...], str]] = {
    "sample": (("sample",), "gen sample; fid, kid, precision, recall, is"),
    "temperature": (("sample(temperature=)",), "gen sample --temperature"),
    "truncation": (("latent", "generate", "truncatable_latent"),
                   "gen sample/evaluate --truncation (the truncation trick)"),
    "latent-interpolation": (("latent", "generate"),
                             "gen sample --interpolate between drawn latents, Run.interpolate"),
    "steps": (("samplers",), "gen sample/evaluate --sampler, --steps (and --eta)"),
    "guidance": (("sample(guidance=)",), "gen sample/evaluate --guidance (conditional models)"),
    "nll": (("log_prob", "likelihood"), "--metrics nll (elbo for a bound), eval_metric=nll"),
    "iw-nll": (("iw_log_prob",), "nll as an importance-weighted estimate"),
    "encode": (("encode",), "gen encode, --metrics probe"),
    "reconstruct": (("encode", "decode"), "gen sample --reconstruct and --interpolate"),
}


def _has(cls: Any, name: str) -> bool:
    return callable(getattr(cls, name, None))


def has_latent(cls: Any) -> bool:
    """Whether a model class (or instance) has a latent: ``latent(n, generator=None)`` and
    ``generate(z, labels=None)`` (docs/plugins.md)."""
    return _has(cls, "latent") and _has(cls, "generate")


def _keywords(method: Any) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(method).parameters)
    except (TypeError, ValueError):  # a builtin or C callable: no signature to read
        return frozenset()


def _samplers(cls: Any) -> bool:
    samplers = getattr(cls, "samplers", None)
    return isinstance(samplers, Mapping) and len(samplers) > 0


def samplers(cls: Any) -> dict[str, list[str]] | None:
    """A model class's samplers and the options each takes (for listings), None for a
    one-pass model."""
    if not _samplers(cls):
        return None
    return {str(k): list(v) for k, v in cls.samplers.items()}


def capabilities(cls: Any) -> list[str]:
    """The capabilities of a model class (or instance), in `CAPABILITIES` order."""
    found = []
    if _has(cls, "sample"):
        found.append("sample")
        keywords = _keywords(cls.sample)
        if "temperature" in keywords:
            found.append("temperature")
        if has_latent(cls):
            if getattr(cls, "truncatable_latent", False) is True:
                found.append("truncation")
            found.append("latent-interpolation")
        if _samplers(cls):
            found.append("steps")
        if "guidance" in keywords:
            found.append("guidance")
    if _has(cls, "log_prob") and getattr(cls, "likelihood", None) in LIKELIHOODS:
        found.append("nll")
    if _has(cls, "iw_log_prob"):
        found.append("iw-nll")
    if _has(cls, "encode"):
        found.append("encode")
        if _has(cls, "decode"):
            found.append("reconstruct")
    return found


def check_model_class(cls: Any) -> list[str]:
    """Problems with a model class's declarations: an unknown ``likelihood`` value (a typo is
    never read as a bound), one without ``log_prob``, an estimator that is not text, a
    ``default_iw_samples`` that is not a whole number of at least 1, malformed ``samplers``, a
    ``truncatable_latent`` that is not a bool."""
    problems = []
    likelihood = getattr(cls, "likelihood", None)
    if likelihood is not None and likelihood not in LIKELIHOODS:
        problems.append(f"likelihood = {likelihood!r}; expected 'exact', 'lower-bound' or None")
    elif likelihood is not None and not _has(cls, "log_prob"):
        problems.append(f"likelihood = {likelihood!r} but the class has no log_prob(x, y=None)")
    estimator = getattr(cls, "likelihood_estimator", None)
    if estimator is not None and not isinstance(estimator, str):
        problems.append(f"likelihood_estimator = {estimator!r}; expected a short text or None")
    draws = getattr(cls, "default_iw_samples", None)
    if draws is not None and (type(draws) is not int or draws < 1):
        problems.append(f"default_iw_samples = {draws!r}; expected a whole number >= 1 or None")
    problems += _sampler_problems(getattr(cls, "samplers", None))
    truncatable = getattr(cls, "truncatable_latent", False)
    if not isinstance(truncatable, bool):
        problems.append(f"truncatable_latent = {truncatable!r}; expected True or False")
    return problems


def _sampler_problems(samplers: Any) -> list[str]:
    """A ``samplers`` declaration that is not {name: options of "steps" and "eta"}: a typo
    ("step") would otherwise make --steps an error for a sampler that takes it."""
    if samplers is None:
        return []
    expected = 'expected {"name": ("steps", "eta"), ...}: options of "steps" and "eta"'
    if not isinstance(samplers, Mapping):
        return [f"samplers = {samplers!r}; {expected}"]
    for name, options in samplers.items():
        if (not isinstance(name, str) or not name or isinstance(options, str | bytes)
                or not isinstance(options, tuple | list | frozenset | set)
                or any(o not in SAMPLER_OPTIONS for o in options)):
            return [f"samplers[{name!r}] = {options!r}; {expected}"]
    return []


def require(model: Any, capability: str, what: str) -> None:
    """A `GenError` (exit 1, as any request the model cannot serve) when ``model`` lacks
    ``capability``, naming the member(s) its class would need."""
    if capability in capabilities(type(model)):
        return
    members, _ = CAPABILITIES[capability]
    missing = [m for m in members if not _provides(model, m)]
    name = getattr(getattr(model, "spec", None), "name", type(model).__name__)
    if capability == "temperature":
        raise GenError(f"{what} needs a model whose sample() takes a temperature keyword "
                         f"(a flow's); that of {name!r} does not")
    raise GenError(f"{what} needs {' and '.join(members)}; {name!r} has no "
                   f"{' and no '.join(missing)}")


def _provides(model: Any, member: str) -> bool:
    if member == "likelihood":
        return getattr(model, "likelihood", None) in LIKELIHOODS
    if member == "truncatable_latent":
        return getattr(model, "truncatable_latent", False) is True
    return _has(model, member.split("(")[0])


def estimator_name(model: Any) -> str:
    """What ``log_prob`` computes, as the model names it."""
    own = getattr(model, "likelihood_estimator", None)
    if own:
        return own
    return "exact" if getattr(model, "likelihood", None) == "exact" else "lower bound"
