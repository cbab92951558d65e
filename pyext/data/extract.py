"""Patch extraction: decoded training videos -> candidate patches with motion scores
(``patches.h5``); test videos -> full-frame clips (``test.h5``); a report of what was skipped.

Every random choice is seeded per video (from ``extract.seed`` and the video's path), so the
output is the same whatever the number of workers. A video contributes all of its clips or none:
any decoding problem skips it whole and lists it in the report.
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import ClipParams, ExtractParams
from .files import name_bytes, write_json
from .manifest import Manifest, VideoEntry
from .store import ClipWriter, compress_clips, merge_stores, open_store, store_videos
from .video import VideoError, read_video


def motion_score(clips: np.ndarray) -> np.ndarray:
    """RMS of consecutive-frame differences on the 0..255 scale, over all frames, pixels and
    channels: ``sqrt(mean((x[t+1] - x[t])^2))``.

    Args:
        clips: uint8 ``(N, T, H, W, 3)``, T >= 2.
    Returns:
        float32 ``(N,)``.

    Example:
        >>> clip = np.zeros((1, 2, 4, 4, 3), np.uint8); clip[0, 1] = 10
        >>> motion_score(clip)
        array([10.], dtype=float32)
    """
    diff = np.diff(clips.astype(np.float32), axis=1)
    return np.sqrt((diff * diff).mean(axis=(1, 2, 3, 4))).astype(np.float32)


@dataclass
class VideoClips:
    """What one video yields, ready to write: its clips compressed as store chunks, with their
    per-clip fields; or the error that skipped it."""

    index: int
    split: str
    frames: int = 0
    shape: tuple[int, ...] = ()  # (T, H, W, 3) of every clip
    chunks: list[bytes] | None = None
    rows: dict[str, np.ndarray] | None = None
    error: str | None = None


def video_rng(seed: int, path: str) -> np.random.Generator:
    """The random generator of one video: the same in any worker, different for every video."""
    return np.random.default_rng([seed, zlib.crc32(name_bytes(path))])


def _clip_starts(frames: int, length: int, stride: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    starts = np.arange(0, frames - length + 1, stride)
    if 0 < cap < len(starts):
        starts = np.sort(rng.choice(starts, cap, replace=False))
    return starts


def _training_clips(frames: np.ndarray, clip: ClipParams, params: ExtractParams, rng: np.random.Generator):
    t, h, w, _ = frames.shape
    p = clip.patch
    starts = _clip_starts(t, clip.train_frames, params.clip_stride, params.max_clips_per_video, rng)
    starts = np.repeat(starts, params.crops_per_clip)
    yx = np.stack([rng.integers(0, h - p + 1, len(starts)), rng.integers(0, w - p + 1, len(starts))], axis=1)
    clips = np.stack([frames[s:s + clip.train_frames, y:y + p, x:x + p] for s, (y, x) in zip(starts, yx)])
    return clips, starts, yx


def _test_clips(frames: np.ndarray, clip: ClipParams, params: ExtractParams):
    # Evenly spread over the video, first and last clip included.
    last = frames.shape[0] - clip.test_frames
    starts = np.unique(np.linspace(0, last, params.test_clips_per_video).round().astype(int))
    clips = np.stack([frames[s:s + clip.test_frames] for s in starts])
    return clips, starts, np.zeros((len(starts), 2), int)


Task = tuple[int, VideoEntry, Path, ClipParams, ExtractParams, int | None]


def process_video(task: Task) -> VideoClips:
    """Decodes one video and cuts its clips (training patches or full-frame test clips),
    compressed as store chunks."""
    return cut_clips(task, decode_video(task))


def decode_video(task: Task) -> np.ndarray | VideoError:
    """The video's frames (:func:`pyext.data.video.read_video`), or why they could not be read."""
    index, entry, root, clip, params, threads = task
    try:
        return read_video(root / entry.path, max_size=params.frame_size, threads=threads)
    except VideoError as exc:
        return exc


def cut_clips(task: Task, frames: np.ndarray | VideoError) -> VideoClips:
    """The clips of a decoded video, scored and compressed; or why it is skipped."""
    index, entry, root, clip, params, threads = task
    result = VideoClips(index, entry.split)
    if isinstance(frames, VideoError):
        result.error = frames.problem
        return result
    length = clip.train_frames if entry.split == "train" else clip.test_frames
    result.frames = len(frames)
    h, w = frames.shape[1:3]
    if len(frames) < length:
        result.error = f"too short: {len(frames)} frames, a clip needs {length}"
    elif entry.split == "train" and min(h, w) < clip.patch:
        result.error = f"frames of {h}x{w} are smaller than a {clip.patch}x{clip.patch} patch"
    else:
        if entry.split == "train":
            clips, start, yx = _training_clips(frames, clip, params, video_rng(params.seed, entry.path))
        else:
            clips, start, yx = _test_clips(frames, clip, params)
        n = len(clips)
        result.shape, result.chunks = clips.shape[1:], compress_clips(clips)
        result.rows = {"motion": motion_score(clips), "video": np.full(n, index), "start": start, "yx": yx,
                       "label": np.full(n, entry.label)}
    return result


OUTPUTS = ("patches.h5", "test.h5")
REPORT = "extract_report.json"
_COUNTS = ("videos", "videos_read", "videos_skipped", "frames_decoded", "train_clips", "patches", "test_clips")


def extract(manifest: Manifest, clip: ClipParams, params: ExtractParams, out_dir: Path,
            record: dict, shard: tuple[int, int] = (0, 1), progress: bool = True) -> dict:
    """Writes ``out_dir/patches.h5``, ``out_dir/test.h5`` and ``out_dir/extract_report.json``.

    Args:
        manifest: the videos (:func:`pyext.data.manifest.read_manifest`).
        clip, params: the ``clip`` and ``extract`` params sections.
        out_dir: output folder.
        record: params recorded in the files' ``params`` attribute.
        shard: ``(i, n)``: process only the videos whose manifest index is ``i`` modulo ``n``
            (join the shards with :func:`merge_shards`).
    Returns:
        The report (also written as JSON).
    """
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must be 0 <= i < n, got i={index}, n={count}")
    root = Path(manifest.root)
    videos = [v.path for v in manifest.videos]
    # One worker decodes with FFmpeg's threads, as raw decoding would; several get one thread each.
    threads = None if params.workers == 1 else 1
    tasks = [(i, v, root, clip, params, threads) for i, v in enumerate(manifest.videos)
             if i % count == index]
    report = {name: 0 for name in _COUNTS} | {"videos": len(tasks), "skipped": [], "shard": [index, count]}
    began = time.perf_counter()
    # Test clips keep their video's frame size (stored by size), whatever the other videos'.
    with ClipWriter(out_dir / OUTPUTS[0], (clip.train_frames, clip.patch, clip.patch, 3), videos,
                    {"params": record}) as patches, \
            ClipWriter(out_dir / OUTPUTS[1], (clip.test_frames, None, None, 3), videos, {"params": record}) as tests, \
            _processed(tasks, params.workers) as results:
        for result in tqdm(results, total=len(tasks), desc="extract", unit="video", disable=not progress):
            entry = manifest.videos[result.index]
            if result.error is not None:
                report["videos_skipped"] += 1
                report["skipped"].append({"path": entry.path, "error": result.error})
                continue
            n = len(result.chunks)
            (patches if result.split == "train" else tests).append_compressed(result.shape, result.chunks,
                                                                             **result.rows)
            report["videos_read"] += 1
            report["frames_decoded"] += result.frames
            if result.split == "train":
                report["train_clips"] += n // params.crops_per_clip
                report["patches"] += n
            else:
                report["test_clips"] += n
        report["seconds"] = round(time.perf_counter() - began, 2)
        patches.attrs["counts"] = tests.attrs["counts"] = {k: v for k, v in report.items() if k != "skipped"}
    write_json(out_dir / REPORT, report)
    return report


def merge_shards(shard_dirs: list[Path], out_dir: Path, record: dict) -> dict:
    """Joins the outputs of ``extract`` shards (one folder each) into ``out_dir``: the same files,
    rows and report as one unsharded run (``seconds`` is the sum of the shards')."""
    reports = [json.loads((d / REPORT).read_text()) for d in shard_dirs]
    report = {name: sum(r[name] for r in reports) for name in _COUNTS}
    with open_store(shard_dirs[0] / OUTPUTS[0]) as f:  # every shard lists all videos, in manifest order
        order = {path: i for i, path in enumerate(store_videos(f))}
    report["skipped"] = sorted((s for r in reports for s in r["skipped"]), key=lambda s: order[s["path"]])
    report["seconds"] = round(sum(r["seconds"] for r in reports), 2)
    attrs = {"params": record, "counts": {k: v for k, v in report.items() if k != "skipped"}}
    for name in OUTPUTS:
        merge_stores([d / name for d in shard_dirs], out_dir / name, attrs)
    write_json(out_dir / REPORT, report)
    return report


@contextlib.contextmanager
def _processed(tasks: list[Task], workers: int) -> Iterator[Iterator[VideoClips]]:
    """The results of :func:`process_video` over ``tasks``, in order.

    One worker decodes in this process while a thread cuts, scores and compresses the previous
    video (PyAV, numpy and zlib release the GIL, so the two overlap without a worker process's
    start-up). Several are a pool of processes, started fresh (spawn: nothing of this process's
    threads or open files is inherited) and stopped on leaving, also after an error; they work
    ahead while this process writes.
    """
    if workers == 1:
        with ThreadPoolExecutor(1) as cutter:
            yield _cut_behind(tasks, cutter)
        return
    pool = multiprocessing.get_context("spawn").Pool(workers)
    try:
        yield pool.imap(process_video, tasks)
    finally:
        pool.terminate()
        pool.join()


def _cut_behind(tasks: list[Task], cutter: ThreadPoolExecutor) -> Iterator[VideoClips]:
    behind: Future | None = None
    for task in tasks:
        ahead = cutter.submit(cut_clips, task, decode_video(task))
        if behind is not None:
            yield behind.result()
        behind = ahead
    if behind is not None:
        yield behind.result()
