"""How pyext behaves when the native extension is missing, broken or built for another torch."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pyext

PACKAGE = Path(pyext.__file__).parent
REPO = PACKAGE.parent


# An editable install (pip install -e .) adds an import hook that would find the real pyext._C
# for the copy too; the subprocesses drop it so that they see only the copy.
_DROP_EDITABLE_HOOKS = "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"


def _run(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "BEYONDMSE_REQUIRE_NATIVE"} | env
    code = _DROP_EDITABLE_HOOKS + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the pyext sources without the compiled extension."""
    shutil.copytree(PACKAGE, tmp_path / "pyext", ignore=shutil.ignore_patterns("_C*", "__pycache__"))
    return tmp_path


def test_missing_extension_falls_back_to_the_reference_with_one_warning(package_copy):
    result = _run("""
        import warnings, torch, pyext
        assert not pyext.native_available()
        print(pyext.native_error())
        p, t = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = pyext.gdl_loss(p, t)
            pyext.pyr_down(p)
        assert len(caught) == 1 and "reference" in str(caught[0].message), caught
        assert torch.equal(first, pyext.reference.gdl_loss(p, t))
        print("ok")
    """, package_copy)
    assert result.returncode == 0, result.stderr
    assert "not built" in result.stdout and "make build" in result.stdout
    assert result.stdout.strip().endswith("ok")


def test_require_native_turns_a_missing_extension_into_an_import_error(package_copy):
    result = _run("from pyext import gdl_loss", package_copy, BEYONDMSE_REQUIRE_NATIVE="1")
    assert result.returncode != 0
    assert "ImportError: BEYONDMSE_REQUIRE_NATIVE is set but the native extension is not built" in result.stderr


def test_a_broken_extension_is_reported(package_copy):
    native = next(PACKAGE.glob("_C.*.so"))
    (package_copy / "pyext" / native.name).write_bytes(b"not a shared library")
    result = _run("import pyext; print(pyext.native_error())", package_copy)
    assert result.returncode == 0, result.stderr
    assert "failed to load" in result.stdout


def test_an_extension_built_for_another_torch_is_refused(package_copy):
    native = next(PACKAGE.glob("_C.*.so"))
    shutil.copy(native, package_copy / "pyext" / native.name)
    result = _run("import torch; torch.__version__ = '0.0.1'; import pyext; print(pyext.native_error())",
                  package_copy)
    assert result.returncode == 0, result.stderr
    assert "built for torch" in result.stdout and "torch 0.0.1 is running" in result.stdout


@pytest.mark.skipif(not pyext.native_available(), reason="needs the built extension (make test requires it)")
def test_reference_only_runs_the_reference_within_its_block(monkeypatch):
    import torch

    from pyext import ops, reference
    calls = []
    real = reference.gdl_loss
    monkeypatch.setattr(reference, "gdl_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    p, t = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    native = pyext.gdl_loss(p, t)
    assert calls == []
    with ops.reference_only():
        referenced = pyext.gdl_loss(p, t)
    assert calls == [1]
    torch.testing.assert_close(referenced, native)
    pyext.gdl_loss(p, t)
    assert calls == [1]  # native again after the block


@pytest.mark.skipif(not pyext.native_available(), reason="needs the built extension (make test requires it)")
def test_the_ops_load_no_testing_op():
    # The tests' library (pyext._C_testing, torch.ops.beyondmse_testing) is theirs alone: the
    # package's ops never load it, and the production library holds none of its schemas.
    result = _run("""
        import sys, torch, pyext.ops
        assert pyext.ops.native_available(), pyext.ops.native_error()
        names = [s.name for s in torch._C._jit_get_all_schemas() if s.name.startswith("beyondmse")]
        assert "beyondmse::gdl_loss" in names, names
        assert not [n for n in names if not n.startswith("beyondmse::") or n.endswith("_on_cpu")], names
        assert "pyext._C_testing" not in sys.modules
        print("ok")
    """, REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
