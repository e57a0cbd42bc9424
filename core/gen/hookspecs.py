"""The hooks a gen plugin may implement. Every hook is named ``gen_*``.

A plugin module marks its implementations with ``@gen.hookimpl``; a function whose name starts
with ``gen_`` but matches no hook here makes the plugin fail to load (so a typo is an error, not a
silently ignored hook). A hook that raises (``SystemExit`` too) marks its plugin broken, and what
it prints goes to stderr.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("gen")
hookimpl = pluggy.HookimplMarker("gen")


@hookspec
def gen_register_models(register: Callable[..., None]) -> None:
    """Register the model families this plugin provides.

    Parameters:
        register: call once per model as ``register(name=..., kind=..., conditional=...,
            summary=..., spec="module:SpecClass", model="module:ModelClass")``. ``kind`` is an
            open label grouping models in listings (documented: ``adversarial``,
            ``latent-variable``, ``autoregressive``, ``flow``); what gen offers a model follows
            from the methods its class implements, not from its kind. ``spec`` and ``model`` are
            import paths, imported only when a spec is validated or a model is built, so that
            discovery stays cheap (no torch import). ``name`` has no ``:``; a name another
            plugin registers too is kept for both and then picked as ``PLUGIN:NAME``.
    """


@hookspec
def gen_register_extractors(register: Callable[..., None]) -> None:
    """Register the feature extractors this plugin provides (for FID, KID, precision/recall).

    Parameters:
        register: call once per extractor as ``register(name=..., summary=...,
            extractor="module:build")``. ``extractor`` is the import path of a callable that
            takes a `gen.extractors.base.ExtractorRequest` and returns a
            `gen.extractors.base.Extractor` (a torch module mapping uint8 images to feature
            vectors); it is imported only when features are computed, so that discovery stays
            cheap (no torch import). Names follow the rules of `gen_register_models`.
    """


@hookspec
def gen_register_datasets(register: Callable[..., None]) -> None:
    """Register the data sets this plugin provides.

    Parameters:
        register: call once per data set as ``register(name=..., summary=...,
            dataset="module:build", options="module:OptionsClass", labelled=...)``. ``dataset``
            is the import path of a callable that takes a `gen.data.request.DatasetRequest` and
            returns a `torch.utils.data.Dataset` of ``(uint8 image (C, H, W), int label)``
            items (the contract is in `gen.data.request`); it is imported only when data is
            loaded, so discovery stays cheap (no torch import). ``options`` (optional) is a
            pydantic class validating ``data.options``; ``labelled`` is True, False, or None
            where it depends on the files. Names follow the rules of `gen_register_models`.
    """


@hookspec
def gen_register_trackers(register: Callable[..., None]) -> None:
    """Register the experiment trackers this plugin provides (`train.trackers`).

    Parameters:
        register: call once per tracker as ``register(name=..., summary=...,
            tracker="module:Class", options="module:OptionsClass", requires=("module",),
            install="pip install ...")``. ``tracker`` is the import path of a
            `gen.tracking.Tracker` subclass, built with its validated options; ``options``
            (optional) a pydantic class validating the options a spec gives it; ``requires``
            the modules it imports, checked present (not imported) when a spec names it, and
            ``install`` the command that installs them. Imported only when a run is tracked,
            so discovery stays cheap (no torch import). Names follow the rules of
            `gen_register_models`.
    """
