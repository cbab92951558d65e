"""pyext.files and the stages' signal handling: a killed or timed-out writer leaves no
temporary that a rerun keeps; those of live writers and of other hosts stay."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyext.files import _started, _writer, atomic_output, temporary_sibling

REPO = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_rerun_removes_the_temporaries_of_dead_writers_on_this_host_only(tmp_path):
    target = tmp_path / "patches.h5"
    host = _writer().split("-")[0]
    me, dead = os.getpid(), _dead_pid()
    parts = {
        "dead": tmp_path / f".patches.h5.{host}-{dead}-{_started(me)}-0000aaaa.part",
        "reused_pid": tmp_path / f".patches.h5.{host}-{me}-1-0000bbbb.part",  # this pid, another start
        "alive": temporary_sibling(target),  # this process, writing now
        "other_host": tmp_path / f".patches.h5.otherhost-{dead}-5-0000cccc.part",
        "other_file": tmp_path / f".test.h5.{host}-{dead}-5-0000dddd.part",
        "dead_folder": tmp_path / f".patches.h5.{host}-{dead}--0000eeee.part",  # start time unknown
    }
    for name, part in parts.items():
        if name == "dead_folder":
            (part / "inside").mkdir(parents=True)
        else:
            part.write_text(name)
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    left = {name for name, part in parts.items() if part.exists()}
    assert left == {"alive", "other_host", "other_file"}
    assert target.read_text() == "new"


def test_sigterm_removes_what_a_stage_was_writing(tmp_path):
    # As Slurm ends a job at its time limit: the stage unwinds, the hidden temporary goes.
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from pyext.commands import run
        from pyext.files import atomic_output

        def main():
            with atomic_output(Path({str(tmp_path)!r}) / "patches.h5") as tmp:
                tmp.write_text("partial")
                print("writing", flush=True)
                time.sleep(60)

        run("extract", main)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "writing"
    assert len(list(tmp_path.iterdir())) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------- locks


def test_a_second_run_of_the_same_outputs_stops_with_one_line(tmp_path):
    # Two `python -m pipeline.train` at once both finished, their dvclive tables holding steps twice;
    # with different params each moved the other's checkpoint aside.
    from pyext.files import Layout

    with Layout(tmp_path).locked("train"):
        done = subprocess.run([sys.executable, "-m", "pipeline.train"], cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"train: the train outputs are being written by another run (process {os.getpid()}, which holds "
        ".beyondmse/locks/train.lock): wait for it to end, or stop it"]


def test_locks_are_per_output_set_and_go_with_their_process(tmp_path):
    from pyext.files import Layout, LockedError

    layout = Layout(tmp_path)
    shards = [(f"extract-shard-{i}-of-2", (layout.shard(i, 2).folder,)) for i in range(2)]
    with layout.locked(*shards[0]), layout.locked(*shards[1]):  # the shards run side by side
        with pytest.raises(LockedError, match="the extract-shard-0-of-2 outputs are being written by another run"):
            with layout.locked(*shards[0]):
                pass
    # A holder killed with SIGKILL leaves no lock behind: the kernel releases it.
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from pyext.files import Layout
        with Layout(Path({str(tmp_path)!r})).locked("train"):
            print("held", flush=True)
            time.sleep(60)
    """)], cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(LockedError, match=rf"process {holder.pid}, which holds"):
        with layout.locked("train"):
            pass
    holder.kill()
    holder.wait(timeout=30)
    with layout.locked("train"):
        pass
    # Under torchrun only rank 0 takes it.
    with layout.locked("evaluate"):
        os.environ["RANK"] = "1"
        try:
            with layout.locked("evaluate"):
                pass
        finally:
            del os.environ["RANK"]


def test_a_negative_until_step_is_refused(tmp_path):
    # `python -m pipeline.train --until-step -5` was accepted.
    done = subprocess.run([sys.executable, "-m", "pipeline.train", "--until-step", "-5"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].endswith("--until-step must be >= 1, got -5")
