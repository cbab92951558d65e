"""HDF5 stores of clips: the candidate patches, the training/validation sets and the test clips.

Schema (version 1), one row per clip:

=========  ======================  ===================================================
``clips``  uint8 (N, T, H, W, 3)   RGB frames; chunked (a few clips a chunk), gzip
``motion`` float32 (N)             RMS of consecutive-frame differences, 0..255 scale
``video``  int32 (N)               index into ``videos``
``start``  int32 (N)               first frame of the clip in the decoded video
``yx``     int16 (N, 2)            crop origin (0, 0 for full frames)
``label``  int16 (N)               0-based class of the video
``videos`` UTF-8 strings (V)       video paths relative to the data root
=========  ======================  ===================================================

File attributes: ``schema_version``, ``params`` (JSON of the params used), ``counts`` (JSON).
Files are written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import h5py
import numpy as np

from .files import name_bytes, temporary_sibling

SCHEMA_VERSION = 1
ROW_FIELDS = {"motion": np.float32, "video": np.int32, "start": np.int32, "yx": np.int16, "label": np.int16}
# One clip a chunk: a Dataset reads one clip at a time, and workers can compress clips into
# finished chunks (compress_clips) that the writer stores as they are.
_GZIP_LEVEL = 1


def compress_clips(clips: np.ndarray) -> list[bytes]:
    """Each clip of ``clips`` (n, T, H, W, 3) uint8 as a finished chunk of the ``clips`` dataset
    (HDF5's gzip filter stores zlib streams), for :meth:`ClipWriter.append_compressed`."""
    return [zlib.compress(np.ascontiguousarray(clip, dtype=np.uint8).tobytes(), _GZIP_LEVEL) for clip in clips]


class StoreError(ValueError):
    """An HDF5 store that cannot be used; the message names the file."""


class ClipWriter:
    """Appends clips and their metadata to a new store; use as a context manager. The file appears
    under ``path`` only when the block completes; on an exception nothing is left behind.

    Args:
        path: the store to create.
        clip_shape: ``(T, H, W, 3)`` of every clip.
        videos: video paths (relative to the data root) that ``video`` indexes.
        attrs: JSON-serialisable file attributes (e.g. ``{"params": {...}}``).
    """

    def __init__(self, path: str | os.PathLike, clip_shape: tuple[int, ...], videos: list[str], attrs: dict):
        self.path = Path(path)
        self.clip_shape = tuple(clip_shape)
        self.videos, self.attrs = videos, attrs
        self.count = 0

    def __enter__(self) -> ClipWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temporary_sibling(self.path)
        self._file = h5py.File(self._tmp, "w")
        self._file.create_dataset("clips", shape=(0, *self.clip_shape), maxshape=(None, *self.clip_shape),
                                  dtype=np.uint8, chunks=(1, *self.clip_shape), compression="gzip",
                                  compression_opts=_GZIP_LEVEL)
        for name, dtype in ROW_FIELDS.items():
            shape = (0, 2) if name == "yx" else (0,)
            self._file.create_dataset(name, shape=shape, maxshape=(None, *shape[1:]), dtype=dtype,
                                      chunks=(4096, *shape[1:]))
        # As bytes: h5py refuses the lone surrogates of a name that is not valid UTF-8 (store_videos
        # reads them back the same).
        self._file.create_dataset("videos", data=[name_bytes(v) for v in self.videos], dtype=h5py.string_dtype())
        return self

    def append(self, clips: np.ndarray, **rows: np.ndarray) -> None:
        """Adds ``clips`` (n, T, H, W, 3) uint8 with one value per clip of every field of
        :data:`ROW_FIELDS` (``yx`` shaped (n, 2))."""
        n = len(clips)
        if clips.shape[1:] != self.clip_shape or clips.dtype != np.uint8:
            raise ValueError(f"{self.path}: clips must be uint8 (n, {self.clip_shape}), got {clips.dtype} {clips.shape}")
        self._append_rows(n, rows)
        dataset = self._file["clips"]
        dataset.resize(self.count + n, axis=0)
        dataset[self.count:] = clips
        self.count += n

    def append_compressed(self, clip_shape: tuple[int, ...], chunks: list[bytes], **rows: np.ndarray) -> None:
        """Adds clips already compressed by :func:`compress_clips` (of clips shaped ``clip_shape``),
        with their fields as in :meth:`append`, writing the chunks as they are."""
        if tuple(clip_shape) != self.clip_shape:
            raise ValueError(f"{self.path}: clips must be {self.clip_shape}, got {tuple(clip_shape)}")
        n = len(chunks)
        self._append_rows(n, rows)
        clips = self._file["clips"]
        clips.resize(self.count + n, axis=0)
        for k, chunk in enumerate(chunks):
            clips.id.write_direct_chunk((self.count + k, *(0,) * len(self.clip_shape)), chunk)
        self.count += n

    def _append_rows(self, n: int, rows: dict[str, np.ndarray]) -> None:
        if set(rows) != set(ROW_FIELDS):
            raise ValueError(f"{self.path}: append needs {sorted(ROW_FIELDS)}, got {sorted(rows)}")
        for name, data in rows.items():
            dataset = self._file[name]
            dataset.resize(self.count + n, axis=0)
            dataset[self.count:] = np.asarray(data, dtype=dataset.dtype)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._file.attrs["schema_version"] = SCHEMA_VERSION
                for key, value in self.attrs.items():
                    self._file.attrs[key] = json.dumps(value)
            self._file.close()
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            if self._tmp.exists():
                self._tmp.unlink()


def open_store(path: str | os.PathLike) -> h5py.File:
    """Opens a store for reading, checking its schema version."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(f"{path}: cannot open as HDF5 ({exc})") from exc
    if f.attrs.get("schema_version") != SCHEMA_VERSION:
        f.close()
        raise StoreError(f"{path}: schema version {f.attrs.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    return f


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
        filled = [f for f in files if len(f["clips"])]
        shapes = {f["clips"].shape[1:] for f in filled} or {files[0]["clips"].shape[1:]}
        if len(shapes) > 1:
            raise StoreError(f"{dst}: the shards hold clips of different shapes {sorted(shapes)}: "
                             f"{', '.join(str(p) for p in sources)}")
        videos = store_videos(files[0])
        video = np.concatenate([f["video"][:] for f in filled]) if filled else np.zeros(0, np.int32)
        shard = np.concatenate([np.full(len(f["clips"]), i) for i, f in enumerate(filled)]) if filled else video
        row = np.concatenate([np.arange(len(f["clips"])) for f in filled]) if filled else video
        order = np.argsort(video, kind="stable")
        with ClipWriter(dst, shapes.pop(), videos, attrs) as out:
            # Runs of consecutive rows of one shard are copied as one slice.
            breaks = np.flatnonzero((np.diff(shard[order]) != 0) | (np.diff(row[order]) != 1)) + 1
            for run in np.split(order, breaks) if len(order) else []:
                f, lo, hi = filled[shard[run[0]]], row[run[0]], row[run[-1]] + 1
                out.append(f["clips"][lo:hi], **{name: f[name][lo:hi] for name in ROW_FIELDS})
            return out.count
    finally:
        for f in files:
            f.close()
