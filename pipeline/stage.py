"""What every stage script shares: bad params or input data end the stage with one line naming
the thing at fault (exit status 2), not a traceback."""
from __future__ import annotations

import sys
from collections.abc import Callable

from pyext.config import ParamsError
from pyext.data.manifest import ManifestError

USER_ERRORS = (ParamsError, ManifestError)


def run(stage: str, main: Callable[[], None]) -> None:
    try:
        main()
    except USER_ERRORS as exc:
        print(f"{stage}: {exc}", file=sys.stderr)
        sys.exit(2)
