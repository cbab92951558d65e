"""Atomic outputs: a file appears under its final name only once it is complete.

DVC and the stage scripts see either the previous file or the finished new one, never a partial
file that looks complete after an interrupted run.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def temporary_sibling(path: str | os.PathLike) -> Path:
    """A unique hidden name next to ``path``, ``.<name>.<pid>-<random>.part``, to write a file or
    folder under before renaming it to ``path`` (a rename within a folder is atomic). Unlike
    :func:`tempfile.mkstemp` it creates nothing, so what is written there gets the usual
    permissions rather than owner-only ones.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; renames it to ``path`` when the block succeeds and
    removes it when the block fails.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with atomic_output(Path(d) / "out.txt") as tmp:
        ...         _ = tmp.write_text("done")
        ...     print(sorted(p.name for p in Path(d).iterdir()))
        ['out.txt']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_json(path: str | os.PathLike, data: object) -> None:
    """Writes ``data`` as indented JSON, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def file_digest(path: str | os.PathLike, size: int = 16) -> str:
    """A BLAKE2b digest of the file's bytes, ``size`` bytes as hex (reads at disk speed)."""
    digest = hashlib.blake2b(digest_size=size)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()
