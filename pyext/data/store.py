"""HDF5 stores of clips: the candidate patches, the training/validation sets and the test clips.

Schema (version 2), one row per clip:

=========  ======================  ===================================================
``clips``  uint8 (N, T, H, W, 3)   RGB frames; chunked (one clip a chunk), Zstandard
``motion`` float32 (N)             RMS of consecutive-frame differences, 0..255 scale
``video``  int32 (N)               index into ``videos``
``start``  int32 (N)               first frame of the clip in the decoded video
``yx``     int16 (N, 2)            crop origin (0, 0 for full frames)
``label``  int16 (N)               0-based class of the video
``videos`` UTF-8 strings (V)       video paths relative to the data root
=========  ======================  ===================================================

A test store of a set that records every possible future of its test clips (the stochastic set,
:mod:`pyext.data.stochastic`) also holds ``futures``: per row, the predicted frames of each of
its K futures, uint8 (N, K * F, H, W, 3) (future k's F frames at ``k * F``), stored by size as
the clips are, with K in the group's ``branches`` attribute (:func:`futures_of` reads them as
(K, F, H, W, 3)). Stores without it read as before.

File attributes: ``schema_version``, ``params`` (JSON of the params used), ``counts`` (JSON).
Files are written under a temporary name and renamed when complete.

Clips of several frame sizes (the test clips: each video keeps its own size and aspect) are
stored by size: ``clips`` is then a group with one dataset (n, T, H, W, 3) per frame size,
named ``"{H}x{W}"``, and ``clips_size`` int16 (N, 2) holds each row's (H, W); rows keep their
order, and a row's place in its size's dataset is its rank among the rows of that size.
:class:`ClipArray` reads either layout. Version 1 (still read) is version 2 without that layout.

Each chunk is one Zstandard frame (level 1) with its checksum, under HDF5 filter 32015
(``hdf5plugin``'s, imported here, so that h5py can read the stores anywhere this module is
imported; writing needs it, reading through :class:`ClipArray` does not, so a machine without it
still reads stores). The project reads clips through :class:`ClipArray`, which decodes the frames itself
and so checks their checksums: hdf5plugin's filter does not, and would return a damaged chunk's
wrong pixels without an error. Zstandard writes the clips 4-8x faster than gzip at about the
same size (``bench/RESULTS.md``, "Compression filters"). Stores written before it hold gzip
chunks (zlib streams carry their own checksum), read through HDF5's own filter.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path

import h5py
import numpy as np
import zstandard

try:
    import hdf5plugin
except ImportError:  # stores can still be read (ClipArray decodes the chunks itself), not written
    hdf5plugin = None

from ..files import FileError, cannot_write, fault_point, name_bytes, temporary_sibling

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
ROW_FIELDS = {"motion": np.float32, "video": np.int32, "start": np.int32, "yx": np.int16, "label": np.int16}
FUTURES = "futures"  # a test store's possible futures of each clip, where its set records them
# One clip a chunk: a Dataset reads one clip at a time, and workers can compress clips into
# finished chunks (compress_clips) that the writer stores as they are.
_ZSTD_LEVEL = 1
_ZSTD_FILTER = 32015  # the HDF5 filter id registered for Zstandard (hdf5plugin.ZSTD_ID)


def compress_clips(clips: np.ndarray) -> list[bytes]:
    """Each clip of ``clips`` (n, T, H, W, 3) uint8 as a finished chunk of a clips dataset (one
    Zstandard frame with its checksum), for :meth:`ClipWriter.append_compressed`."""
    compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_checksum=True)  # not shared by threads
    if not len(clips):
        return []
    rows = np.ascontiguousarray(clips, dtype=np.uint8).reshape(len(clips), -1)
    # One call for all: the frames (byte for byte what compress() makes of each clip) are made in C
    # without the interpreter's lock, and each comes back as an exact-size copy of its segment.
    frames = compressor.multi_compress_to_buffer([memoryview(row) for row in rows])
    return [frame.tobytes() for frame in frames]


class StoreError(ValueError):
    """An HDF5 store that cannot be used; the message names the file."""


def _require_hdf5plugin(path: str | os.PathLike) -> None:
    """Raises, naming ``path``, where hdf5plugin (needed to write Zstandard chunks) is missing."""
    if hdf5plugin is None:
        raise StoreError(f"{path}: writing a store needs the package hdf5plugin (pip install hdf5plugin), "
                         "which is not installed")


class ClipArrayWriter:
    """Appends uint8 clips (T, H, W, 3) to ``file[name]``: one dataset when every clip has the
    frame size ``frame_size``, or by frame size (the layout in this module's docstring) when
    ``frame_size`` is None. One clip a chunk, Zstandard (:func:`compress_clips` makes such chunks).

    Args:
        file: an HDF5 file open for writing.
        name: the dataset or group to create.
        frames: T, frames per clip.
        frame_size: ``(H, W)`` of every clip, or None (each clip its own).
    """

    def __init__(self, file: h5py.File, name: str, frames: int, frame_size: tuple[int, int] | None):
        self.file, self.name, self.frames, self.frame_size = file, name, frames, frame_size
        self.count = 0
        if frame_size is None:
            file.create_group(name).attrs["frames"] = frames  # known also while the group is empty
            file.create_dataset(f"{name}_size", shape=(0, 2), maxshape=(None, 2), dtype=np.int16, chunks=(4096, 2),
                                track_times=False)
        else:
            self._dataset(tuple(frame_size))

    def _dataset(self, size: tuple[int, int]) -> h5py.Dataset:
        """The dataset that takes clips of frame size ``size`` (created at its first clip)."""
        shape = (self.frames, *size, 3)
        key = self.name if self.frame_size is not None else f"{self.name}/{size[0]}x{size[1]}"
        if key not in self.file:
            _require_hdf5plugin(self.file.filename)
            self.file.create_dataset(key, shape=(0, *shape), maxshape=(None, *shape), dtype=np.uint8,
                                     chunks=(1, *shape), track_times=False, **hdf5plugin.Zstd(clevel=_ZSTD_LEVEL))
        return self.file[key]

    def _make_room(self, clip_shape: tuple[int, ...], n: int) -> tuple[h5py.Dataset, int]:
        """Grows the dataset of clips shaped ``clip_shape`` by ``n`` rows; returns it and the first new row."""
        clip_shape = tuple(clip_shape)
        size = clip_shape[1:3]
        if len(clip_shape) != 4 or clip_shape[0] != self.frames or clip_shape[3] != 3 or \
                (self.frame_size is not None and size != tuple(self.frame_size)):
            expected = (self.frames, *(self.frame_size or ("H", "W")), 3)
            raise ValueError(f"{self.file.filename}: clips must be {expected}, got {clip_shape}")
        dataset = self._dataset(size)
        first = len(dataset)
        dataset.resize(first + n, axis=0)
        if self.frame_size is None:
            sizes = self.file[f"{self.name}_size"]
            sizes.resize(self.count + n, axis=0)
            sizes[self.count:] = size
        self.count += n
        return dataset, first

    def append(self, clips: np.ndarray) -> None:
        """Adds ``clips`` (n, T, H, W, 3) uint8, all of one frame size."""
        if clips.dtype != np.uint8:
            raise ValueError(f"{self.file.filename}: clips must be uint8, got {clips.dtype}")
        self.append_compressed(clips.shape[1:], compress_clips(clips))

    def append_compressed(self, clip_shape: tuple[int, ...], chunks: list[bytes]) -> None:
        """Adds clips already compressed by :func:`compress_clips` (of clips shaped ``clip_shape``),
        writing the chunks as they are."""
        dataset, first = self._make_room(clip_shape, len(chunks))
        for k, chunk in enumerate(chunks):
            dataset.id.write_direct_chunk((first + k, 0, 0, 0, 0), chunk)


class ClipArray:
    """Reads the clips under ``file[name]`` row by row, in either layout of :class:`ClipArrayWriter`.

    ``clips[i]`` is row i, uint8 (T, H_i, W_i, 3); ``clips.read(i, *index)`` reads a part of it
    (e.g. ``clips.read(i, slice(0, 4))``: its first 4 frames); ``clips.sizes`` (N, 2) holds every
    row's (H, W); ``clips.clip_shape`` is (T, H, W, 3), or (T, None, None, 3) stored by size.
    """

    def __init__(self, file: h5py.File, name: str = "clips"):
        node = file[name]
        # Datasets by key (None: the one of a single frame size) and, stored by size, each row's
        # dataset and place in it.
        self._where: list[tuple[str, int]] | None = None
        if isinstance(node, h5py.Dataset):
            self._datasets: dict[str | None, h5py.Dataset] = {None: node}
            self.clip_shape: tuple = node.shape[1:]
            self.sizes = np.broadcast_to(np.array(node.shape[2:4], np.int64), (len(node), 2))
        else:
            self._datasets = dict(node.items())
            self.clip_shape = (int(node.attrs["frames"]), None, None, 3)
            self.sizes = file[f"{name}_size"][:].astype(np.int64)
            seen: dict[str, int] = {}
            self._where = []
            for h, w in self.sizes:
                key = f"{h}x{w}"
                self._where.append((key, seen.get(key, 0)))
                seen[key] = seen.get(key, 0) + 1
        self._zstd = {key: _is_zstd(dataset) for key, dataset in self._datasets.items()}

    def __len__(self) -> int:
        return len(self.sizes)

    def read(self, i: int, *index) -> np.ndarray:
        """Row ``i``, or the part of it that ``index`` (over T, H, W, channel) selects.

        Raises:
            StoreError: the clip's chunk is damaged (the message names the file and the row).
        """
        key, row = (None, i) if self._where is None else self._where[i]
        dataset = self._datasets[key]
        try:
            if self._zstd[key]:
                _, chunk = dataset.id.read_direct_chunk((row, 0, 0, 0, 0))
                clip = np.frombuffer(zstandard.decompress(chunk), np.uint8).reshape(dataset.shape[1:])
                return np.array(clip[index] if index else clip)  # writable, as h5py's reads are
            return dataset[(row, *index)]
        except (OSError, zstandard.ZstdError, ValueError) as exc:  # h5py's message lacks the file's name
            raise StoreError(f"{dataset.file.filename}: clip {i} cannot be read ({exc}); "
                             "rerun the stage that wrote it") from None

    def __getitem__(self, i: int) -> np.ndarray:
        return self.read(int(i))

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo`` to ``hi - 1`` (``hi > lo``), all of one frame size, stacked: (hi - lo, T, H, W, 3)."""
        return np.stack([self.read(i) for i in range(lo, hi)])


class ClipWriter:
    """Appends clips and their metadata to a new store; use as a context manager. The file appears
    under ``path`` only when the block completes; on an exception nothing is left behind.

    Args:
        path: the store to create.
        clip_shape: ``(T, H, W, 3)`` of every clip; ``(T, None, None, 3)``: each clip keeps its
            own frame size (stored by size).
        videos: video paths (relative to the data root) that ``video`` indexes.
        attrs: JSON-serialisable file attributes (e.g. ``{"params": {...}}``).
    """

    def __init__(self, path: str | os.PathLike, clip_shape: tuple, videos: list[str], attrs: dict):
        self.path = Path(path)
        _require_hdf5plugin(self.path)  # before any file is made
        self.clip_shape = tuple(clip_shape)
        self.videos, self.attrs = videos, attrs

    @property
    def count(self) -> int:
        return self._clips.count

    def _futures_writer(self, futures: tuple | None) -> ClipArrayWriter | None:
        """The writer of ``futures`` rows, made at the first row that has them: every row has them
        or none has (a row without beside rows with would misalign them)."""
        writer = self._futures
        if (futures is None) != (writer is None) and (self.count or futures is None):
            raise ValueError(f"{self.path}: every test clip needs its futures, or none may have them")
        if futures is not None and writer is None:
            (branches, frames, *_), _ = futures
            writer = self._futures = ClipArrayWriter(self._file, FUTURES, branches * frames, None)
            self._file[FUTURES].attrs["branches"] = branches
        return writer

    def __enter__(self) -> ClipWriter:
        self._tmp = temporary_sibling(self.path)
        self._futures: ClipArrayWriter | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fault_point(f"write:{self.path.name}", self._tmp)
            self._file = h5py.File(self._tmp, "w")
        except OSError as exc:
            raise cannot_write(self.path, exc) from None
        size = self.clip_shape[1:3]
        self._clips = ClipArrayWriter(self._file, "clips", self.clip_shape[0], None if None in size else size)
        for name, dtype in ROW_FIELDS.items():
            shape = (0, 2) if name == "yx" else (0,)
            self._file.create_dataset(name, shape=shape, maxshape=(None, *shape[1:]), dtype=dtype,
                                      chunks=(4096, *shape[1:]), track_times=False)
        # As bytes: h5py refuses the lone surrogates of a name that is not valid UTF-8 (store_videos
        # reads them back the same).
        self._file.create_dataset("videos", data=[name_bytes(v) for v in self.videos], dtype=h5py.string_dtype(),
                                  track_times=False)
        return self

    def append(self, clips: np.ndarray, futures: np.ndarray | None = None, **rows: np.ndarray) -> None:
        """Adds ``clips`` (n, T, H, W, 3) uint8 with one value per clip of every field of
        :data:`ROW_FIELDS` (``yx`` shaped (n, 2)); ``futures`` (n, K, F, H, W, 3) uint8: each clip's
        K possible futures, where the store records them."""
        if futures is None:
            self._check_rows(rows)
            self._futures_writer(None)
            self._append_rows(len(clips), rows, lambda: self._clips.append(clips))
            return
        for name, array in (("clips", clips), ("futures", futures)):
            if array.dtype != np.uint8:
                raise ValueError(f"{self.path}: {name} must be uint8, got {array.dtype}")
        n, k, f, *frame = futures.shape
        self.append_compressed(clips.shape[1:], compress_clips(clips),
                               ((k, f, *frame), compress_clips(futures.reshape(n, k * f, *frame))), **rows)

    def append_compressed(self, clip_shape: tuple[int, ...], chunks: list[bytes],
                          futures: tuple[tuple[int, ...], list[bytes]] | None = None, **rows: np.ndarray) -> None:
        """Adds clips already compressed by :func:`compress_clips` (of clips shaped ``clip_shape``),
        with their fields as in :meth:`append`, writing the chunks as they are; ``futures``: the
        shape ``(K, F, H, W, 3)`` of each clip's futures and their chunks (compressed as
        ``(K * F, H, W, 3)``)."""
        self._check_rows(rows)
        writer = self._futures_writer(futures)
        if futures is not None and len(futures[1]) != len(chunks):
            raise ValueError(f"{self.path}: {len(futures[1])} clips of futures for {len(chunks)} clips")

        def add() -> None:
            self._clips.append_compressed(clip_shape, chunks)
            if writer is not None:
                (k, f, *frame), parts = futures
                writer.append_compressed((k * f, *frame), parts)

        self._append_rows(len(chunks), rows, add)

    def _check_rows(self, rows: dict[str, np.ndarray]) -> None:
        if set(rows) != set(ROW_FIELDS):
            raise ValueError(f"{self.path}: append needs {sorted(ROW_FIELDS)}, got {sorted(rows)}")

    def _append_rows(self, n: int, rows: dict[str, np.ndarray], add_clips) -> None:
        start = self.count
        add_clips()  # first: a clip of the wrong shape stops before any field grows
        for name, data in rows.items():
            dataset = self._file[name]
            dataset.resize(start + n, axis=0)
            dataset[start:] = np.asarray(data, dtype=dataset.dtype)
        fault_point(f"append:{self.path.name}", self._tmp)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # nothing is kept; closing a file whose write failed may fail again
            with contextlib.suppress(Exception):
                self._file.close()
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            if issubclass(exc_type, OSError) and not isinstance(exc, FileError) and _writing(exc, self._tmp):
                raise cannot_write(self.path, exc) from None
            return
        try:
            self._file.attrs["schema_version"] = SCHEMA_VERSION
            for key, value in self.attrs.items():
                self._file.attrs[key] = json.dumps(value)
            self._file.close()
            fault_point(f"rename:{self.path.name}", self._tmp)
            os.replace(self._tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(Exception):
                self._file.close()
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise cannot_write(self.path, exc) from None


def _writing(exc: OSError, tmp: Path) -> bool:
    """Whether an error raised while a store was being written (to ``tmp``) is the write's own:
    the temporary's, a full or read-only disk's, HDF5's failed writes; not a read of another file
    inside the block."""
    return (exc.filename == str(tmp) or exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT)
            or "write failed" in str(exc) or "can't write" in str(exc).lower())


def _is_zstd(dataset: h5py.Dataset) -> bool:
    """Whether ``dataset`` holds Zstandard chunks (else gzip ones, written before)."""
    plist = dataset.id.get_create_plist()
    return plist.get_nfilters() > 0 and plist.get_filter(0)[0] == _ZSTD_FILTER


def open_store(path: str | os.PathLike) -> h5py.File:
    """Opens a store for reading, checking its schema version and its layout (:func:`_layout_problem`).

    Raises:
        StoreError: one line naming the file: not HDF5, another schema, a foreign or damaged layout.
    """
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(f"{path}: cannot open as HDF5 ({exc})") from exc
    if f.attrs.get("schema_version") not in READABLE_VERSIONS:
        f.close()
        raise StoreError(f"{path}: schema version {f.attrs.get('schema_version')!r}, expected one of "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    problem = _layout_problem(f)
    if problem is not None:
        f.close()
        raise StoreError(f"{path}: not a clip store of this project: {problem}; rerun the stage that wrote it")
    return f


def _layout_problem(f: h5py.File) -> str | None:
    """What in an open store is not the schema's (the module docstring), or None: clips uint8
    (N, T, H, W, 3) in either layout, and one value of every row field per clip."""
    if "clips" not in f:
        return "it holds no clips"
    node = f["clips"]
    datasets = [node] if isinstance(node, h5py.Dataset) else [d for d in node.values() if isinstance(d, h5py.Dataset)]
    for dataset in datasets:
        if dataset.ndim != 5 or dataset.shape[-1] != 3 or dataset.dtype != np.uint8:
            return f"clips {dataset.dtype} {tuple(dataset.shape)} (expected uint8 (N, T, H, W, 3): RGB frames)"
    count = len(node) if isinstance(node, h5py.Dataset) else (len(f["clips_size"]) if "clips_size" in f else None)
    if count is None or sum(len(d) for d in datasets) != count:
        return "its clips and their sizes disagree"
    for name in (*ROW_FIELDS, "videos"):
        if name not in f or not isinstance(f[name], h5py.Dataset):
            return f"it has no {name}"
        if name != "videos" and len(f[name]) != count:
            return f"{name} holds {len(f[name])} values for its {count} clips"
    if FUTURES in f:
        node = f[FUTURES]
        branches = node.attrs.get("branches")
        if not isinstance(node, h5py.Group) or f"{FUTURES}_size" not in f or not isinstance(branches, (int, np.integer)) \
                or branches < 1 or node.attrs["frames"] % branches:
            return "its futures are not K futures a clip"
        if len(f[f"{FUTURES}_size"]) != count or sum(len(d) for d in node.values()) != count:
            return f"its futures and its {count} clips disagree"
    return None


def futures_of(f: h5py.File) -> tuple[ClipArray, int] | None:
    """The possible futures of an open test store's clips, where it records them: their rows
    (``array[i]`` is clip i's, (K * F, H, W, 3): future k's F frames at ``k * F``) and K; else None."""
    if FUTURES not in f:
        return None
    return ClipArray(f, FUTURES), int(f[FUTURES].attrs["branches"])


def check_clips(path: str | os.PathLike, clip_shape: tuple, frames: int, patch: int | None, keys: str) -> None:
    """Checks that a store's clips (``clip_shape``: :attr:`ClipArray.clip_shape`) are what a stage
    needs, ``frames`` frames (at least, for the full-frame test clips: ``patch`` None) of
    ``patch`` x ``patch``; ``keys`` are the params that ask for them, named in the error.

    Raises:
        StoreError: naming the file, what it holds, what params.yaml asks for, and the rerun.
    """
    t, h, w = clip_shape[:3]
    held = f"{t} frames" + (f" of {w}x{h}" if h is not None else "")
    if patch is None:
        fits, wanted = t >= frames, f"at least {frames} frames"
    else:
        fits, wanted = (t, h, w) == (frames, patch, patch), f"{frames} frames of {patch}x{patch}"
    if not fits:
        raise StoreError(f"{path}: clips of {held}, but params.yaml asks for {wanted} ({keys}): the data stages ran "
                         f"with other params; rerun them (dvc repro)")


def store_videos(f: h5py.File) -> list[str]:
    """The ``videos`` paths of an open store, as str (h5py returns UTF-8 strings as bytes; a name
    that is not valid UTF-8 comes back with its odd bytes as lone surrogates, as ``os.fsdecode``
    gives it)."""
    return f["videos"].asstr(errors="surrogateescape")[:].tolist()


def read_rows(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every per-clip field of a store except the clips themselves, plus ``videos``."""
    with open_store(path) as f:
        rows = {name: f[name][:] for name in ROW_FIELDS}
        rows["videos"] = np.array(store_videos(f), dtype=object)
        return rows


def merge_stores(sources: list[Path], dst: Path, attrs: dict) -> int:
    """Joins stores written by disjoint shards of one extraction into one self-contained store,
    with rows in the order an unsharded run writes them (by video, each video's rows in order).

    Every video lies in exactly one shard, so a stable sort on the video index restores the order.
    Returns the number of clips.
    """
    files = [open_store(path) for path in sources]
    try:
        arrays = [ClipArray(f) for f in files]
        shapes = {a.clip_shape for a in arrays if len(a)} or {arrays[0].clip_shape}
        if len(shapes) > 1:
            raise StoreError(f"{dst}: the shards hold clips of different shapes {sorted(map(str, shapes))}: "
                             f"{', '.join(str(p) for p in sources)}")
        filled = [(f, a) for f, a in zip(files, arrays) if len(a)]
        videos = store_videos(files[0])
        video = np.concatenate([f["video"][:] for f, _ in filled]) if filled else np.zeros(0, np.int32)
        shard = np.concatenate([np.full(len(a), i) for i, (_, a) in enumerate(filled)]) if filled else video
        row = np.concatenate([np.arange(len(a)) for _, a in filled]) if filled else video
        size = np.concatenate([a.sizes for _, a in filled]) if filled else np.zeros((0, 2), np.int64)
        recorded = [futures_of(f) for f, _ in filled]  # each shard's (futures, K), or None
        order = np.argsort(video, kind="stable")
        with ClipWriter(dst, shapes.pop(), videos, attrs) as out:
            # Runs of consecutive rows of one shard and one frame size are copied as one block.
            breaks = np.flatnonzero((np.diff(shard[order]) != 0) | (np.diff(row[order]) != 1)
                                    | (np.diff(size[order], axis=0) != 0).any(axis=1)) + 1
            for run in np.split(order, breaks) if len(order) else []:
                (f, a), lo, hi = filled[shard[run[0]]], row[run[0]], row[run[-1]] + 1
                held = recorded[shard[run[0]]]
                futures = None if held is None else \
                    held[0].rows(lo, hi).reshape(hi - lo, held[1], -1, *a.sizes[lo], 3)
                out.append(a.rows(lo, hi), futures, **{name: f[name][lo:hi] for name in ROW_FIELDS})
            return out.count
    finally:
        for f in files:
            f.close()
