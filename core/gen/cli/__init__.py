"""The `gen` command line. Modules here import torch only inside the commands that train or
sample, so discovery commands (`list-models`, `plugins`, `spec`, `--help`) stay fast."""
