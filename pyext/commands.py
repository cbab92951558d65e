"""What every command shares, the DVC stages' scripts and ``beyondmse``'s: bad params or input data
end it with one line naming the thing at fault (exit status 2), not a traceback."""
from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable

from .config import ParamsError
from .data.manifest import ManifestError
from .data.store import StoreError
from .files import printable

# Bad params, a bad manifest or a damaged or foreign store, a file that cannot be read or written (a
# full disk, a read-only folder; outputs another run is writing): every command reports these in
# one line, which names the file (pyext.files.FileError's, or the system's message with its path).
USER_ERRORS = (ParamsError, ManifestError, StoreError, OSError)
INTERRUPTED = 130  # the shell's status of a command ended by Ctrl-C (128 + SIGINT)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with one line of what it left (e.g. the training step reached and the checkpoint kept)."""


def _terminated(signum, frame) -> None:
    raise SystemExit(128 + signum)


def run(command: str, main: Callable[[], None], errors: tuple[type[Exception], ...] = (),
        lock: contextlib.AbstractContextManager | None = None) -> None:
    """Runs ``main`` (holding ``lock``, the lock of the outputs it writes: :meth:`pyext.files.Layout.locked`);
    bad params, a bad manifest or store, outputs another run holds, or one of the command's own
    ``errors`` end it with one line ``<command>: <the error>`` and exit status 2."""
    # A scheduler's SIGTERM (Slurm's at a time limit) unwinds like Ctrl-C, so that what is being
    # written is removed (pyext.files.atomic_output) rather than left as a hidden temporary.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        with lock or contextlib.nullcontext():
            main()
    except (*USER_ERRORS, *errors) as exc:
        print(printable(f"{command}: {exc}"), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as exc:  # what was being written is removed as the stack unwinds
        print(printable(f"{command}: {exc or 'interrupted; nothing half-written was kept'}"), file=sys.stderr)
        sys.exit(INTERRUPTED)
