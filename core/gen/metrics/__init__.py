"""Evaluation metrics: likelihoods (nats per image, bits per dimension) and linear probes."""
