"""pytest configuration: the ``cuda`` marker, a compile cache of the run's own; the
``one_torch_thread``, ``data_dir`` and ``testing_ops`` fixtures."""
import importlib
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
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # One pytest worker per core (`pytest -n 2`): a second intra-op thread in each, or in the
        # stages they start, would only spin against the other worker.
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


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


@pytest.fixture(scope="session")
def testing_ops():
    """``torch.ops.beyondmse_testing``: the tests' own ops, which run the CUDA kernels' per-thread code
    on the CPU (``csrc/testing.cpp``). Their library, ``pyext._C_testing``, is built in place beside
    ``pyext._C`` and loaded only here: pyext never imports it. Without it the test is skipped, or
    fails where ``BEYONDMSE_REQUIRE_NATIVE`` is set."""
    from pyext.ops import REQUIRE_NATIVE_ENV

    try:
        built_for = importlib.import_module("pyext._C_testing").torch_version
        problem = None if built_for == torch.__version__ else f"it was built for torch {built_for}"
    except ImportError as exc:
        problem = str(exc)
    if problem is not None:
        message = f"the tests' library pyext._C_testing cannot be used ({problem}): run `make build`"
        if os.environ.get(REQUIRE_NATIVE_ENV, "0") not in ("", "0"):
            pytest.fail(message)
        pytest.skip(message)
    return torch.ops.beyondmse_testing
