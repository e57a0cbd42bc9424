"""One intra-op thread: the tests' tensors are tiny, and on a shared machine extra OpenMP
threads only spin against other processes."""

import torch

torch.set_num_threads(1)
