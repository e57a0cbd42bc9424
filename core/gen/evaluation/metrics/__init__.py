"""Evaluation metrics: likelihoods (nats per image, bits per dimension), linear probes, and
sample quality in a feature space (FID, KID, precision/recall)."""
