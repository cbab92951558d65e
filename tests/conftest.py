"""pytest configuration: the ``cuda`` marker, a compile cache of the run's own; the
``one_torch_thread`` and ``data_dir`` fixtures."""
import os
import tempfile
from pathlib import Path

import pytest
import torch
from cases import moving_squares, write_clips


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one)")
    # torch.compile's on-disk cache keys graphs without the native ops' schemas: graphs cached by
    # an earlier build would call a changed op with its old arguments.
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="beyondmse-inductor-"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module of tiny convolutions: on a small, shared machine two
    threads are many times slower than one (they spin against other processes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A folder with ``train.h5`` (24 clips of 5 frames of 32x32) and ``val.h5`` (6) of moving squares."""
    folder = tmp_path_factory.mktemp("data")
    write_clips(folder / "train.h5", moving_squares(24, 5, seed=1))
    write_clips(folder / "val.h5", moving_squares(6, 5, seed=2))
    return folder
