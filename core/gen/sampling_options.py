"""Sampling options: for iterative models (diffusion, flow matching) which sampler, how many
steps, DDIM's eta, the classifier-free guidance scale; for models with a truncatable latent
(GANs, VAEs, flows) the truncation threshold. No torch here.

An iterative model declares ``samplers`` (name -> the options of "steps" and "eta" each takes)
and its ``sampling_defaults()``; its ``sample`` takes ``sampler=``, ``steps=``, ``eta=`` and,
when conditional, ``guidance=`` (None: the default). `SamplingOptions` holds what the user gave
and is the one place they are checked, for `gen sample`, `gen evaluate`, `Run.sample`,
`Run.evaluate` and the quality metrics alike:

- values on their own when it is made (steps a whole number >= 1, eta in [0, 1], guidance
  finite, truncation finite and > 0, sampler a name): a `UsageError` (exit 2) naming the
  option;
- against a model in `resolve`: a sampler option on a one-pass model (a GAN), a sampler the
  model lacks, ``eta`` or ``steps`` for a sampler that takes none, ``guidance`` for an
  unconditional model or one whose ``sample`` has no guidance keyword, ``truncation`` for a
  model without a truncatable latent (``truncation`` in `gen list-models`): a `UsageError`
  naming the option, the model and what it accepts.

`resolve` returns the settings the images are drawn with: the model's defaults overlaid with
what was given, less what the sampler does not use; that dict is what records carry (empty for a
one-pass model drawn without truncation, whose records are unchanged). ``truncation`` is never
passed to ``sample``: the images are then ``generate(truncate(latent(n)))`` (`gen.latent_tools`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gen.arguments import whole
from gen.capabilities import SAMPLER_OPTIONS, capabilities, has_latent
from gen.errors import UsageError

OPTIONS = ("sampler", "steps", "eta", "guidance", "truncation")


@dataclass(frozen=True)
class SamplingOptions:
    """What the user asked for; None leaves the model's default. ``cli`` spells the options in
    messages as flags (``--steps``) rather than keywords (``steps``)."""

    sampler: str | None = None
    steps: int | None = None
    eta: float | None = None
    guidance: float | None = None
    truncation: float | None = None
    cli: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.sampler is not None and (not isinstance(self.sampler, str) or not self.sampler):
            raise UsageError(f"{self.flag('sampler')}: expected a sampler's name, got "
                             f"{self.sampler!r}")
        if self.steps is not None:
            whole(self.steps, self.flag("steps"))
        if self.eta is not None and not (_is_number(self.eta) and 0 <= self.eta <= 1):
            raise UsageError(f"{self.flag('eta')}: expected a number from 0 to 1 (0: "
                             f"deterministic DDIM, 1: as stochastic as DDPM), got {self.eta!r}")
        if self.guidance is not None and not (_is_number(self.guidance)
                                              and math.isfinite(self.guidance)):
            raise UsageError(f"{self.flag('guidance')}: expected a finite number (1: no "
                             f"guidance), got {self.guidance!r}")
        if self.truncation is not None and not (_is_number(self.truncation)
                                                and math.isfinite(self.truncation)
                                                and self.truncation > 0):
            raise UsageError(f"{self.flag('truncation')}: expected a finite number above 0 "
                             "(latent elements beyond it are drawn again; 0.5 to 2 is usual), "
                             f"got {self.truncation!r}")
        for name, kind in (("steps", int), ("eta", float), ("guidance", float),
                           ("truncation", float)):
            if getattr(self, name) is not None:  # plain numbers in records (not numpy's)
                object.__setattr__(self, name, kind(getattr(self, name)))

    def flag(self, option: str) -> str:
        return f"--{option}" if self.cli else option

    def given(self) -> dict[str, Any]:
        """The options given, by name, in `OPTIONS` order."""
        return {k: getattr(self, k) for k in OPTIONS if getattr(self, k) is not None}

    def resolve(self, model: Any) -> dict[str, Any]:
        """Check the options against ``model`` (a `gen.Model`) and return the settings its
        images are drawn with: ``sampling_defaults()`` overlaid with the options given, without
        the options the sampler does not take (eta for ancestral sampling, say) or guidance for
        a model it does not apply to. Empty for a one-pass model."""
        name = model_name(model)
        samplers = declared_samplers(model)
        given = self.given()
        iterative = [k for k in ("sampler", "steps", "eta") if k in given]
        if iterative and not samplers:
            raise UsageError(
                f"model {name!r} draws in one pass; {self.flag(iterative[0])} applies to "
                "iterative models (those `gen list-models` shows with samplers, such as a "
                "diffusion model's)")
        if self.sampler is not None and self.sampler not in samplers:
            raise UsageError(f"{self.flag('sampler')} {self.sampler}: model {name!r} has no "
                             f"such sampler; its samplers: {describe_samplers(samplers)}")
        defaults = dict(model.sampling_defaults() or {}) if samplers else {}
        sampler = self.sampler or defaults.get("sampler")
        if sampler is None and len(samplers) == 1:
            sampler = next(iter(samplers))
        for option in SAMPLER_OPTIONS:
            if option in given and sampler in samplers and option not in samplers[sampler]:
                takers = [s for s, opts in samplers.items() if option in opts]
                which = (f"samplers that take it: {', '.join(takers)}" if takers
                         else f"its samplers: {describe_samplers(samplers)}")
                raise UsageError(f"{self.flag(option)}: sampler {sampler!r} of model {name!r} "
                                 f"takes no {option}; {which}")
        if "truncation" in given:
            self._check_truncation(model, name, given)
        guided = takes_guidance(model) and bool(getattr(model, "conditional", False))
        if "guidance" in given and not guided:
            why = ("its sample() takes no guidance keyword" if not takes_guidance(model)
                   else "it is unconditional, and classifier-free guidance needs a model "
                   "trained with labels")
            raise UsageError(f"{self.flag('guidance')}: model {name!r} cannot use it: {why}")
        if not samplers:
            return given  # a one-pass model: empty, or the guidance it takes
        resolved = {**defaults, **given}
        if sampler is not None:
            resolved["sampler"] = sampler
        if sampler in samplers:
            for option in SAMPLER_OPTIONS:
                if option not in samplers[sampler]:
                    resolved.pop(option, None)
        if not guided:
            resolved.pop("guidance", None)
        settings = ordered(resolved)
        if not isinstance(model, type):
            # The model's own limits (a diffusion model's T bounds steps) are checked as it
            # counts its network calls: here, before anything is drawn or written.
            model.network_calls("sample", **settings)
        return settings

    def _check_truncation(self, model: Any, name: str, given: dict[str, Any]) -> None:
        if "truncation" not in capabilities(model if isinstance(model, type) else type(model)):
            why = ("its latent is not i.i.d. standard normal (truncatable_latent is False)"
                   if has_latent(model) else "it has no latent(n) and generate(z) to draw "
                   "through (the truncation trick is for GANs, VAEs and flows)")
            raise UsageError(f"{self.flag('truncation')}: model {name!r} cannot use it: {why}")
        others = [k for k in given if k != "truncation"]
        if others:
            raise UsageError(f"{self.flag('truncation')} draws through the model's latent() and "
                             f"generate(), which take no {self.flag(others[0])}")

    def sample_kwargs(self, model: Any) -> dict[str, Any]:
        """What ``model.sample`` is passed: the options given (checked by `resolve`) but
        ``truncation`` (drawn by the core); nothing for a model whose ``sample`` takes none."""
        self.resolve(model)
        return {k: v for k, v in self.given().items() if k != "truncation"}


def model_name(model: Any) -> str:
    return getattr(getattr(model, "spec", None), "name", None) or type(model).__name__


def declared_samplers(model: Any) -> dict[str, tuple[str, ...]]:
    """A model's (or class's) ``samplers``: name -> the options it takes."""
    samplers = getattr(model, "samplers", None)
    if not isinstance(samplers, Mapping):
        return {}
    return {str(k): tuple(v) for k, v in samplers.items()}


def takes_guidance(model: Any) -> bool:
    return "guidance" in capabilities(model if isinstance(model, type) else type(model))


def describe_samplers(samplers: Mapping[str, tuple[str, ...]]) -> str:
    """``ancestral (steps), ddim (steps, eta)``."""
    return ", ".join(f"{s} ({', '.join(opts)})" if opts else s for s, opts in samplers.items())


def ordered(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with `OPTIONS` first, the rest by name."""
    return {**{k: settings[k] for k in OPTIONS if k in settings},
            **{k: settings[k] for k in sorted(settings) if k not in OPTIONS}}


def describe(settings: Mapping[str, Any]) -> str:
    """``ddim, 50 steps, eta 0, guidance 3``: resolved settings in words, the same text for the
    same settings (50 and 50.0 alike), so a report can key columns by it."""
    parts = []
    for key, value in ordered(settings).items():
        text = f"{value:g}" if _is_number(value) else str(value)
        if key == "sampler":
            parts.append(text)
        elif key == "steps":
            parts.append(f"{text} steps")
        else:
            parts.append(f"{key} {text}")
    return ", ".join(parts)


def file_tag(settings: Mapping[str, Any]) -> str:
    """What the default file name of `gen sample` adds for these settings:
    ``-ddim-50steps-eta0-g3``, ``-trunc0.7`` (empty for a one-pass model drawn as it is)."""
    parts = []
    for key, value in ordered(settings).items():
        text = f"{value:g}" if _is_number(value) else str(value)
        text = "".join(c if c.isalnum() or c in "._+" else "_" for c in text)
        parts.append({"sampler": text, "steps": f"{text}steps", "guidance": f"g{text}",
                      "truncation": f"trunc{text}"}.get(key, f"{key}{text}"))
    return "".join(f"-{p}" for p in parts)


def sampling_cost(model: Any, settings: Mapping[str, Any], n: int,
                  default_n: bool = False) -> str | None:
    """The line `gen evaluate` prints before drawing ``n`` images of an iterative model:
    ``drawing 2000 images with ddim, 50 steps: 100,000 network calls``. None for a one-pass
    model, and for one that does not count its calls unless ``n`` is the default (which is then
    said, since it was not chosen)."""
    if not declared_samplers(model):
        return None
    calls = model.network_calls("sample", **settings)
    hint = f" (-n {n} by default; choose fewer with -n)" if default_n else ""
    if calls is None:
        return f"drawing {n} images with {describe(settings)}{hint}" if default_n else None
    return (f"drawing {n} images with {describe(settings)}: {int(calls) * n:,} network calls"
            f"{hint}")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
