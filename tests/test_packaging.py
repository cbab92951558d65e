"""The wheel (``pip wheel .``) holds every package under pyext/ and the native extension, not the
tests' library."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_holds_every_package(tmp_path):
    packages = sorted(p.parent.relative_to(REPO).as_posix() for p in (REPO / "pyext").rglob("__init__.py")
                      if "__pycache__" not in p.parts)
    assert "pyext" in packages and "pyext/data" in packages
    # The files to pack are gathered in a fresh folder, not in build/lib*, where an earlier build may
    # have left packages that setup.py no longer names. The CPU kernels compile into a folder of
    # this test's own under build/ (ignored by git): the first run compiles them (minutes on two
    # cores), later ones reuse them, and the objects of `make build` (CUDA too) are left alone.
    config = tmp_path / "setup.cfg"
    config.write_text(f"[build]\nbuild_lib = {tmp_path / 'lib'}\nbuild_temp = {REPO / 'build' / 'wheel-test'}\n")
    env = {**os.environ, "BEYONDMSE_CPU_ONLY": "1", "DIST_EXTRA_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                           "--quiet", "-w", str(tmp_path / "wheel")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    [wheel] = (tmp_path / "wheel").glob("beyondmse-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"the wheel lacks the packages {missing}"
    for package in packages:  # with all their modules
        modules = sorted(f"{package}/{m.name}" for m in (REPO / package).glob("*.py"))
        assert [m for m in modules if m not in names] == [], package
    shipped = sorted(f"pyext/evaluation/extractor_files/{name}" for name in ("card.json", "classifier.pt", "features.pt"))
    assert [f for f in shipped if f not in names] == [], "the wheel lacks the shipped extractor"
    native = [n for n in names if n.startswith("pyext/_C") and n.endswith(".so")]
    assert [n for n in native if n.startswith("pyext/_C.")], "no native extension"
    # pyext._C_testing is built in place only, for the tests of a checkout.
    assert not [n for n in native if n.startswith("pyext/_C_testing")], "the tests' library is in the wheel"
