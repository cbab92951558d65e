"""pytest configuration: the ``cuda`` marker; the ``one_torch_thread`` fixture."""
import pytest
import torch


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module of tiny convolutions: on a small, shared machine two
    threads are many times slower than one (they spin against other processes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
