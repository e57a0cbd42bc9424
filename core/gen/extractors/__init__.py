"""Feature extractors for sample-quality metrics (FID, KID, precision/recall).

Extractors are registered by plugins through the `gen_register_extractors` hook; the built-in
ones (`inception`, `lenet`) by gen-core's own plugin, `gen.core_plugin`. `base` holds the
contract and the lookup, one module per extractor the rest. Nothing here imports torch.
"""
