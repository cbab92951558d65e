"""pytest configuration: the ``cuda`` marker."""


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")
