"""Scoring weights: likelihoods, sample quality (FID, KID, precision/recall) and linear probes.

Reading a run or scoring it never needs the training loop: everything here takes a model and its
spec (`evaluate.Subject`), whether loaded from a checkpoint or in training (`periodic`).
"""
