"""The ``name`` fixture: each test taking it runs once per flow.

The tests' tensors are tiny, so one intra-op thread is as fast as several on an idle machine,
and on a shared one it avoids OpenMP threads spinning against other processes (which made
this suite ten times slower on two busy cores)."""

import pytest
import torch
from flow_models import NAMES

torch.set_num_threads(1)


@pytest.fixture(params=NAMES)
def name(request) -> str:
    return request.param
