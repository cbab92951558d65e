"""Atomic outputs: a file appears under its final name only once it is complete; digests of files
and of the code a DVC stage runs.

DVC and the stage scripts see either the previous file or the finished new one, never a partial
file that looks complete after an interrupted run.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import fnmatch
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), or "" where unknown: with
    the pid, it names one process, even after the pid is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (where its start time is unknown)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        return True
    return True


def _host() -> str:
    """This machine's name without the separators of a writer's name."""
    return socket.gethostname().replace(".", "_").replace("-", "_") or "host"


def _writer() -> str:
    """This process as a writer of temporaries: ``<host>-<pid>-<start time>``."""
    return f"{_host()}-{os.getpid()}-{_started(os.getpid())}"


KILL_AT = "BEYONDMSE_KILL_AT"
FAIL_AT = "BEYONDMSE_FAIL_AT"
_counts = {KILL_AT: 0, FAIL_AT: 0}


def fault_point(name: str, path: str | os.PathLike | None = None) -> None:
    """A point where a test makes this process fail as a machine does, to check what is left.

    - ``BEYONDMSE_KILL_AT=PATTERN`` or ``PATTERN@N``: the N-th (default: first) point whose name
      matches the glob ``PATTERN`` kills the process the way an out-of-memory killer or a
      scheduler's hard limit does (SIGKILL: no handler, no cleanup runs), to check that a rerun
      recovers.
    - ``BEYONDMSE_FAIL_AT=PATTERN[@N]=ERRNO`` (an errno name: ENOSPC, EROFS, ...): the N-th matching
      point raises that OSError for ``path``, as a full or read-only disk fails a write (tests run
      as root, where chmod does not stop writes).

    The points: ``write:<name>`` just before a file (or a folder's probe, ``write:<folder>/``) is
    created, ``append:<store name>`` after rows are added to a store being written, ``rename:<file
    name>`` just before a finished temporary becomes the output.
    """
    for variable in (KILL_AT, FAIL_AT):
        target = os.environ.get(variable)
        if not target:
            continue
        target, _, code = target.partition("=") if variable == FAIL_AT else (target, "", "")
        pattern, _, nth = target.partition("@")
        if fnmatch.fnmatchcase(name, pattern):
            _counts[variable] += 1
            if _counts[variable] != int(nth or 1):
                continue
            if variable == KILL_AT:
                os.kill(os.getpid(), signal.SIGKILL)
            number = getattr(errno, code)
            raise OSError(number, os.strerror(number), str(path) if path is not None else None)


class FileError(OSError):
    """A file or folder that cannot be used; ``str`` is its one line, naming it (no ``[Errno N]``)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class LockedError(FileError):
    """The outputs a run would write are being written by another run (it holds their lock)."""


class WriteError(FileError):
    """An output that cannot be written (a full disk, a read-only folder)."""


def cannot_write(path: str | os.PathLike, exc: BaseException) -> WriteError:
    """``exc``, a failed write of ``path`` (or of its temporary), as one line naming ``path`` and the cause."""
    blocking = next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and blocking is not None:
        return WriteError(exc.errno, f"{path}: cannot be written ({blocking} is not a folder)")
    cause = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WriteError(getattr(exc, "errno", None) or errno.EIO, f"{path}: cannot be written ({cause})")


def check_writable(folder: str | os.PathLike) -> None:
    """Creates ``folder`` if needed and a file in it (then removes it): a stage checks its output
    folders so, before any work, rather than failing at its first write after hours.

    Raises:
        WriteError: naming the folder and the cause (a read-only file system, a full disk, ...).
    """
    folder = Path(folder)
    probe = temporary_sibling(folder / ".write-probe")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fault_point(f"write:{folder.name}/", probe)
        with open(probe, "xb") as f:
            f.write(b"\0")
    except OSError as exc:
        raise cannot_write(folder, exc) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Holds an exclusive kernel lock (``flock``) on the file ``path`` for the block, for a run
    that writes ``what``: a second run of the same outputs stops at once (two runs of one stage
    would log every step twice and move each other's checkpoints aside). The kernel releases the
    lock when the process ends, however it ends (SIGKILL too): there is no stale lock to remove.
    Under torchrun only rank 0 takes it: the other ranks are part of the same run.

    Raises:
        LockedError: another process holds it (the message names its process id).
    """
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"  # its pid, as it wrote
            raise LockedError(errno.EAGAIN, f"{what} are being written by another run (process {holder}, which "
                                            f"holds {path}): wait for it to end, or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _remove_stale_siblings(path: Path) -> None:
    """Removes the temporaries of ``path`` that a dead writer on this host left (killed, or
    timed out by a scheduler). Those of live writers stay, and those of other hosts, which may be
    writing into a shared folder: a pid says nothing about another machine's processes."""
    host = _host()
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        writer = part.name[len(path.name) + 2:-len(".part")].split("-")
        if len(writer) != 4 or writer[0] != host or not writer[1].isdigit():
            continue  # another host's, or not one of ours
        pid, started = int(writer[1]), writer[2]
        if _started(pid) == started if started else _alive(pid):
            continue  # its writer is still running
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(part) if part.is_dir() and not part.is_symlink() else part.unlink()


def temporary_sibling(path: str | os.PathLike) -> Path:
    """A unique hidden name next to ``path``, ``.<name>.<host>-<pid>-<start>-<random>.part``, to
    write a file or folder under before renaming it to ``path`` (a rename within a folder is
    atomic). Unlike :func:`tempfile.mkstemp` it creates nothing, so what is written there gets the
    usual permissions rather than owner-only ones. The name says which process writes it, so the
    leftovers of a killed writer (on this host) are removed here, the next time ``path`` is written.
    """
    path = Path(path)
    _remove_stale_siblings(path)
    return path.with_name(f".{path.name}.{_writer()}-{secrets.token_hex(4)}.part")


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
    tmp = temporary_sibling(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fault_point(f"write:{path.name}", tmp)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        yield tmp
        fault_point(f"rename:{path.name}", tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        # Removed also where the folder refuses it (read-only): the first error is the one to report.
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FileError) and _about(exc, path, tmp):
            raise cannot_write(path, exc) from None
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """:func:`atomic_output` for a folder: yields a new temporary folder beside ``path``, which
    replaces ``path`` (and all it held) when the block succeeds; when it fails, the temporary goes
    and ``path`` stays as it was.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with atomic_folder(Path(d) / "set") as tmp:
        ...         _ = (tmp / "a.txt").write_text("done")
        ...     print(sorted(p.relative_to(d).as_posix() for p in Path(d).rglob("*")))
        ['set', 'set/a.txt']
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        tmp.mkdir(parents=True)
        fault_point(f"write:{path.name}/", tmp)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        yield tmp
        fault_point(f"rename:{path.name}/", tmp)
        if path.exists():  # a rename cannot replace a non-empty folder: the old one goes aside first
            old = temporary_sibling(path)
            path.rename(old)
            try:
                tmp.rename(path)
            except BaseException:
                old.rename(path)
                raise
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileError) and _about(exc, path, tmp):
            raise cannot_write(path, exc) from None
        raise


def _about(exc: OSError, *paths: Path) -> bool:
    """Whether ``exc`` is an error of one of ``paths`` (not of a file the block read)."""
    return any(str(name) in (str(p) for p in paths) for name in (exc.filename, exc.filename2) if name is not None)


def name_bytes(name: str) -> bytes:
    """A path's bytes as the filesystem gave them. Names that are not valid UTF-8 reach Python
    with their odd bytes as lone surrogates (``os.fsdecode``); this turns them back, so they can be
    hashed and stored. Valid names give their UTF-8 bytes.

    >>> name_bytes(os.fsdecode(b"caf\\xe9.mp4")), name_bytes("café.mp4")
    (b'caf\\xe9.mp4', b'caf\\xc3\\xa9.mp4')
    """
    return name.encode("utf-8", "surrogateescape")


def printable(text: str) -> str:
    """``text`` safe to print or write as UTF-8: the odd bytes of a name that is not valid UTF-8
    shown as ``\\xNN`` escapes.

    >>> printable(os.fsdecode(b"caf\\xe9.mp4"))
    'caf\\\\xe9.mp4'
    """
    return name_bytes(text).decode("utf-8", "backslashreplace")


def write_json(path: str | os.PathLike, data: object) -> None:
    """Writes ``data`` as indented JSON, atomically (ASCII, so a name that is not valid UTF-8 keeps
    its lone surrogates as ``\\udcNN`` escapes and reads back the same).

    Raises:
        ValueError: ``data`` holds NaN or infinity, which strict JSON has no words for (nothing is written).
    """
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"  # before the temporary exists
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def file_digest(path: str | os.PathLike, size: int = 16) -> str:
    """A BLAKE2b digest of the file's bytes, ``size`` bytes as hex (reads at disk speed)."""
    digest = hashlib.blake2b(digest_size=size)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


class StrictLoader(yaml.SafeLoader):
    """The project's YAML reader (params, presets, dvc.yaml): SafeLoader that refuses duplicate keys
    (plain YAML keeps the last one silently, so a second ``min_motion:`` further down would override
    the first unnoticed) and reads numbers in scientific notation as YAML 1.2 does.

    YAML 1.1's resolver, PyYAML's, takes a float only with a dot and a signed exponent: ``5e-05`` or
    ``1e-4`` would be strings, yet DVC and ruamel write floats below 1e-4 so (``-S
    train.lr_g=5e-5``). Merge keys (``<<: *anchor``) merge as in plain YAML, the keys written beside
    them overriding the merged ones.

    >>> [yaml.load(text, Loader=StrictLoader) for text in ("5e-05", "1e4", "1.0e-4", "'1e4'", "1_000", "e5")]
    [5e-05, 10000.0, 0.0001, '1e4', 1000, 'e5']
    """


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # merged keys may be overridden: not duplicates
            continue
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable):  # an unhashable key is SafeLoader's error to report
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
    return loader.construct_mapping(node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.2's floats that YAML 1.1 leaves as strings: an exponent without a dot or without a sign.
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                   re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
                                   list("-+.0123456789"))


def stage_code_deps(dvc_yaml: str | os.PathLike, stage: str) -> list[str]:
    """The code dependencies of ``stage`` as ``dvc_yaml`` lists them: its deps less the data, i.e.
    less every path some stage writes (its outs, metrics or plots) and anything under ``data/``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "dvc.yaml").write_text(
        ...         "stages:\\n  a: {cmd: x, deps: [src/a.py], outs: [data/a.h5]}\\n"
        ...         "  b: {cmd: y, deps: [data/a.h5, src/b.py, csrc/], outs: [{out.pt: {persist: true}}]}\\n")
        ...     print(stage_code_deps(Path(d) / "dvc.yaml", "b"))
        ['csrc', 'src/b.py']
    """
    with open(dvc_yaml, encoding="utf-8") as f:
        stages = yaml.load(f, Loader=StrictLoader)["stages"]
    if stage not in stages:
        raise KeyError(f"{dvc_yaml}: no stage {stage!r}")

    def paths(entries) -> set[str]:  # a dvc.yaml list holds paths and {path: options} mappings
        return {_dep_path(p) for e in entries or () for p in ([e] if isinstance(e, str) else e)}

    written = set().union(*(paths(s.get(k)) for s in stages.values() for k in ("outs", "metrics", "plots")))
    return sorted(p for p in paths(stages[stage].get("deps")) - written if p != "data" and not p.startswith("data/"))


def _dep_path(path: str) -> str:
    return path.rstrip("/").removeprefix("./")


def paths_digest(root: str | os.PathLike, paths: list[str], size: int = 16) -> str:
    """A BLAKE2b digest (``size`` bytes as hex) of the files at ``paths`` relative to ``root``: each
    file's relative path and contents, in sorted path order; a folder stands for every file under it
    (``__pycache__`` folders left out); a missing path counts as missing. It changes when a file is
    edited, added, removed or renamed, and not with timestamps or the order of ``paths``."""
    root = Path(root)
    files: dict[str, Path | None] = {}
    for rel in paths:
        path = root / rel
        if path.is_dir():
            for f in path.rglob("*"):
                if f.is_file() and "__pycache__" not in f.relative_to(root).parts:
                    files[f.relative_to(root).as_posix()] = f
        else:
            files[Path(rel).as_posix()] = path if path.is_file() else None
    digest = hashlib.blake2b(digest_size=size)
    for rel in sorted(files):
        content = file_digest(files[rel]) if files[rel] is not None else "missing"
        digest.update(f"{rel}\0{content}\n".encode())
    return digest.hexdigest()


def code_digest(root: str | os.PathLike, stage: str, size: int = 16) -> str:
    """The digest (:func:`paths_digest`) of the code a DVC stage runs: the files of its code deps
    (:func:`stage_code_deps`) in ``root/dvc.yaml``, e.g. ``pipeline/train.py``, ``pyext/models/``
    and every file under ``csrc/`` for the train stage. Editing any of them changes it, as it makes
    ``dvc repro`` rerun the stage; the stage's data (the outputs of earlier stages) does not."""
    return paths_digest(root, stage_code_deps(Path(root) / "dvc.yaml", stage), size)


# ------------------------------------------------------------------------------ the pipeline's layout
#
# Every file the pipeline's stages write, named once: the stage scripts pass these paths to the
# library, whose functions take paths. dvc.yaml spells the same paths for DVC (tests/test_layout.py
# checks both agree, and that no other module of the package spells an output's name).


@dataclass(frozen=True)
class DataFiles:
    """A data folder: the extraction's and the filter's outputs (``data/``; the fine-tuning
    patches' ``data/finetune/``; a shard's ``data/shards/<i>-of-<n>/``)."""

    folder: Path

    @property
    def manifest(self) -> Path:
        """The videos, their splits and classes (prepare)."""
        return self.folder / "manifest.json"

    @property
    def patches(self) -> Path:
        """Every candidate training patch with its motion score (extract)."""
        return self.folder / "patches.h5"

    @property
    def test(self) -> Path:
        """The full-frame test clips (extract)."""
        return self.folder / "test.h5"

    @property
    def extract_report(self) -> Path:
        return self.folder / "extract_report.json"

    @property
    def train(self) -> Path:
        """The training patches that move enough (filter)."""
        return self.folder / "train.h5"

    @property
    def val(self) -> Path:
        """The validation patches, of held-out videos (filter)."""
        return self.folder / "val.h5"

    @property
    def filter_report(self) -> Path:
        return self.folder / "filter_report.json"

    @property
    def val_frames(self) -> Path:
        """Full-frame clips of the first validation videos, cut as the test clips are (val_frames)."""
        return self.folder / "val_frames.h5"

    @property
    def report(self) -> Path:
        """The fine-tuning data's report (finetune_data), which holds its extraction's and filter's."""
        return self.folder / "report.json"


@dataclass(frozen=True)
class RunFiles:
    """A training run's files: its checkpoint and generator in ``folder``, its dvclive logs in ``live``
    (None: the run logs nothing)."""

    folder: Path
    live: Path | None = None

    @property
    def checkpoint(self) -> Path:
        """Kept across runs: a run of the same params, data and code resumes from it."""
        return self.folder / "checkpoint.pt"

    @property
    def generator(self) -> Path:
        """The trained generator (:mod:`pyext.models.files`)."""
        return self.folder / "generator.pt"

    @property
    def stale(self) -> Path:
        """Where a checkpoint of other params, data or code is moved, kept."""
        return self.folder / "stale"

    @property
    def none(self) -> Path:
        """The fine-tuning stage's note that it trained nothing (``finetune.patch`` 0)."""
        return self.folder / "none.json"

    @property
    def live_summary(self) -> Path:
        """dvclive's summary of the run (its last values, the machine)."""
        return self.live / "metrics.json"

    @property
    def live_metrics(self) -> Path:
        """dvclive's curves, one table per logged value."""
        return self.live / "plots" / "metrics"

    @property
    def live_images(self) -> Path:
        """dvclive's pictures."""
        return self.live / "plots" / "images"

    @property
    def validation_table(self) -> Path:
        """The validation PSNRs as one series table (:mod:`pyext.tables`)."""
        return self.live / "plots" / "custom" / "validation.csv"


@dataclass(frozen=True)
class EvaluationFiles:
    """The evaluate stage's outputs in ``folder``."""

    folder: Path

    @property
    def metrics(self) -> Path:
        return self.folder / "metrics.json"

    @property
    def predictions(self) -> Path:
        """The model's outputs on the test samples."""
        return self.folder / "predictions.h5"

    @property
    def steps(self) -> Path:
        """A series table per step (:mod:`pyext.tables`)."""
        return self.folder / "plots" / "steps.csv"

    @property
    def clips(self) -> Path:
        """A series table per test sample."""
        return self.folder / "plots" / "clips.csv"

    @property
    def pictures(self) -> Path:
        return self.folder / "pictures"

    @property
    def translations(self) -> Path:
        """A translator's test patches in rows: each domain's, translated, and translated back."""
        return self.pictures / "translations.png"

    @property
    def translated_clip(self) -> Path:
        """A translator's test clips translated frame by frame, beside their source, animated."""
        return self.pictures / "translated.gif"


# The shipped pretrained predictor (`python -m experiments.pretrain` writes it, its card.json beside it):
# what `beyondmse predict` falls back to and `train.init: pretrained` starts from.
PRETRAINED = Path(__file__).parent / "models" / "pretrained" / "generator.pt"


@dataclass(frozen=True)
class Layout:
    """The pipeline's files under ``root`` (the repository, where ``dvc repro`` runs its stages).

    Example:
        >>> layout = Layout(Path("."))
        >>> layout.data.train.as_posix(), layout.finetune.generator.as_posix()
        ('data/train.h5', 'models/finetune/generator.pt')
    """

    root: Path = Path(".")

    @property
    def data(self) -> DataFiles:
        return DataFiles(self.root / "data")

    def generated(self, source: str) -> Path:
        """Where prepare renders a generated set (``data.source: demo``, ``photos``)."""
        return self.data.folder / source

    def unused_note(self, source: str) -> Path:
        """The note in a generated set's folder while another source is in use."""
        return self.generated(source) / "UNUSED.txt"

    def shard(self, index: int, count: int) -> DataFiles:
        """One part of a sharded extraction (``pipeline.extract --shard``)."""
        return DataFiles(self.data.folder / "shards" / f"{index}-of-{count}")

    @property
    def finetune_data(self) -> DataFiles:
        """The fine-tuning patches (finetune_data)."""
        return DataFiles(self.data.folder / "finetune")

    @property
    def train(self) -> RunFiles:
        """The train stage's run."""
        return RunFiles(self.root / "models", self.root / "dvclive")

    @property
    def finetune(self) -> RunFiles:
        """The finetune stage's run, its logs beside its generator."""
        folder = self.root / "models" / "finetune"
        return RunFiles(folder, folder / "dvclive")

    @property
    def evaluation(self) -> EvaluationFiles:
        return EvaluationFiles(self.root / "eval")

    def folders(self, stage: str) -> tuple[Path, ...]:
        """The folders a DVC stage writes its outputs into."""
        data = self.data.folder
        return {"prepare": (data,), "extract": (data,), "filter": (data,), "val_frames": (data,),
                "finetune_data": (self.finetune_data.folder,),
                "train": (self.train.folder, self.train.live), "finetune": (self.finetune.folder,),
                "evaluate": (self.evaluation.folder,)}[stage]

    @contextlib.contextmanager
    def locked(self, outputs: str, folders: tuple[Path, ...] | None = None) -> Iterator[None]:
        """Holds the lock of one set of outputs (a stage's, or one shard's of a sharded extraction:
        :func:`output_lock`, on a file kept out of DVC's outputs and git's files), having checked
        that their ``folders`` (default: the stage's, :meth:`folders`) can be written."""
        with output_lock(self.root / ".beyondmse" / "locks" / f"{outputs}.lock", f"the {outputs} outputs"):
            for folder in self.folders(outputs) if folders is None else folders:
                check_writable(folder)
            yield
