"""The `beyondmse` command: `make install` puts it on the venv's PATH; `--help` lists this package's
commands and the experiments' (entry points of beyondmse.commands); each command has its own help."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyext import cli

SCRIPT = Path(sys.executable).parent / "beyondmse"
COMMANDS = ("predict", "interpolate", "sample", "translate", "gam", "preset", "zoo", "table2", "claim", "readme", "footage", "footage-study")


def test_the_installed_command_lists_every_command(tmp_path):
    assert SCRIPT.exists(), f"{SCRIPT} is missing: `make install` installs the package and its command"
    done = subprocess.run([str(SCRIPT), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("positional arguments:")[1]
    assert all(f"    {name} " in listed or f"    {name}\n" in listed for name in COMMANDS), done.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_its_help(name, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([name, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: beyondmse {name} ")


def test_an_unknown_command_or_a_broken_plugin(capsys, monkeypatch):
    with pytest.raises(SystemExit) as done:
        cli.main(["no-such-command"])
    assert done.value.code == 2 and "invalid choice: 'no-such-command'" in capsys.readouterr().err

    class Broken:
        value = "no_such_module_of_beyondmse:main"

    monkeypatch.setattr(cli, "_plugins", lambda: {"broken": Broken()})
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    listed = " ".join(capsys.readouterr().out.split())  # argparse wraps the help lines
    assert "broken (cannot be loaded: No module named 'no_such_module_of_beyondmse')" in listed
