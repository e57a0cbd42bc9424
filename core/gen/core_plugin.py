"""gen-core's own plugin: the built-in feature extractors, registered through the same hook a
third-party plugin uses (so `gen plugins` lists them under ``gen-core``). Registration only: the
extractors' modules, and torch, are imported when features are computed."""

from __future__ import annotations

from gen.hookspecs import hookimpl


@hookimpl
def gen_register_extractors(register):
    register(
        name="inception",
        summary="Inception-v3 pool features, the standard FID network (Szegedy et al. 2016; "
        "Heusel et al. 2017), from the published pt_inception-2015-12-05 weights",
        extractor="gen.extractors.inception:build",
    )
    register(
        name="lenet",
        summary="A LeNet-style classifier trained by gen on the run's data set (offline; "
        "penultimate-layer features)",
        extractor="gen.extractors.lenet:build",
    )
