"""Builders of the data sets gen reads from files: see `gen.data.request` for their contract."""
