import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The test networks are tiny: one thread runs them fastest, and on a busy machine a
    second thread that must wait for a core can make each step 50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
