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
import os
import tempfile
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import ClipParams, ExtractParams
from ..files import DataFiles, name_bytes, write_json
from .filter import filter_patches
from .manifest import Manifest, VideoEntry, read_manifest
from .store import ClipWriter, compress_clips, merge_stores, open_store, store_videos
from .synthetic import recorded_futures
from .video import VideoError, count_packets, iter_frames


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
    # A test video's recorded futures: ((K, F, H, W, 3), chunks of (K * F, H, W, 3)), one per clip.
    futures: tuple[tuple[int, ...], list[bytes]] | None = None


def video_rng(seed: int, path: str) -> np.random.Generator:
    """The random generator of one video: the same in any worker, different for every video."""
    return np.random.default_rng([seed, zlib.crc32(name_bytes(path))])


def _clip_starts(frames: int, length: int, stride: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    starts = np.arange(0, frames - length + 1, stride)
    if 0 < cap < len(starts):
        starts = np.sort(rng.choice(starts, cap, replace=False))
    return starts


def _test_starts(frames: int, length: int, count: int) -> np.ndarray:
    # Evenly spread over the video (frames >= length), first and last clip included.
    return np.unique(np.linspace(0, frames - length, count).round().astype(int))


Task = tuple[int, VideoEntry, Path, ClipParams, ExtractParams, int | None]


def process_video(task: Task, cutter: ThreadPoolExecutor | None = None) -> VideoClips:
    """Decodes one video and cuts its clips (training patches or full-frame test clips), scored and
    compressed as store chunks; or the reason it is skipped.

    The clips are planned before decoding from the video's packet count
    (:func:`pyext.data.video.count_packets`) and filled frame by frame as the video streams past,
    so memory holds the clips being filled and the finished clips' compressed chunks, never the
    video's frames. Where the decoder returns another number of frames than the packets promised,
    the video is decoded again with the plan made from the true count, so the clips are always those
    of the decoded frames. Finished clips are scored and compressed by ``cutter`` when given (a
    thread beside the decoding), else in line.
    """
    index, entry, root, clip, params, threads = task
    path = root / entry.path
    try:
        result = _cut_streaming(task, count_packets(path), cutter)
        if result.error is None and result.chunks is None:  # the decoder's count was not the packets'
            frames = result.frames
            result = _cut_streaming(task, frames, cutter)
            if result.error is None and result.chunks is None:
                result.error = f"decoded {frames} frames, then {result.frames}"
        if result.error is None and entry.split == "test":
            _cut_futures(task, result)
    except VideoError as exc:
        result = VideoClips(index, entry.split, error=exc.problem)
    return result


def _cut_futures(task: Task, result: VideoClips) -> None:
    """Sets ``result.futures`` from the futures recorded beside a test video
    (:func:`pyext.data.synthetic.recorded_futures`), if any: each future decoded as the video is,
    cut where its clips are, their predicted frames kept (those after ``clip.input_frames``).
    A future that decodes to another length than the video is the video's error."""
    index, entry, root, clip, params, threads = task
    paths = recorded_futures(root, entry.path)
    if not paths:
        return
    starts = result.rows["start"]
    cuts = []
    for k, path in enumerate(paths, 1):
        frames = np.stack(list(iter_frames(path, max_size=params.frame_size, threads=threads)))
        if frames.shape[0] != result.frames or frames.shape[1:3] != result.shape[1:3]:
            result.error = f"its future {k} ({path.name}) decodes to {frames.shape[:3]}, the video to " \
                           f"{(result.frames, *result.shape[1:3])}"
            return
        cuts.append(np.stack([frames[s + clip.input_frames:s + clip.test_frames] for s in starts.tolist()]))
    futures = np.stack(cuts, axis=1)  # (clips, K, F, H, W, 3)
    n, k, f, *frame = futures.shape
    result.futures = ((k, f, *frame), compress_clips(futures.reshape(n, k * f, *frame)))


def _cut_streaming(task: Task, planned: int, cutter: ThreadPoolExecutor | None) -> VideoClips:
    """The clips of a video that decodes to ``planned`` frames: planned with the video's random
    generator in the order a whole-video cut would draw them (the clip starts, then the crops), and
    filled from :func:`pyext.data.video.iter_frames`. ``frames`` of the result is the decoded count;
    where it is not ``planned``, the result has no clips (``chunks`` None) and no error."""
    index, entry, root, clip, params, threads = task
    train = entry.split == "train"
    length = clip.train_frames if train else clip.test_frames
    result = VideoClips(index, entry.split)
    rng = video_rng(params.seed, entry.path)
    if train:
        starts = np.repeat(_clip_starts(planned, length, params.clip_stride, params.max_clips_per_video, rng),
                           params.crops_per_clip)
    else:
        starts = _test_starts(planned, length, params.test_clips_per_video) if planned >= length else \
            np.zeros(0, int)
    # Clips are filled in start order and finish in that order: [done, filling) hold frames now;
    # finished ones wait in `ready` to be scored and compressed a batch at a time.
    done, filling, buffers, ready, pieces = 0, 0, {}, [], []
    start_at, t = starts.tolist(), -1

    def flush() -> None:
        batch = np.stack(ready)
        pieces.append(cutter.submit(_score_and_compress, batch) if cutter else _score_and_compress(batch))
        ready.clear()

    for t, frame in enumerate(iter_frames(root / entry.path, max_size=params.frame_size, threads=threads)):
        if t == 0:
            h, w = frame.shape[:2]
            if train and min(h, w) < clip.patch:
                result.error = f"frames of {h}x{w} are smaller than a {clip.patch}x{clip.patch} patch"
                return result
            p = clip.patch if train else None
            yx = (np.stack([rng.integers(0, h - p + 1, len(starts)), rng.integers(0, w - p + 1, len(starts))],
                           axis=1) if train else np.zeros((len(starts), 2), int))
            shape = (length, p, p, 3) if train else (length, h, w, 3)
            windows = [(y, y + shape[1], x, x + shape[2]) for y, x in yx.tolist()]
        while filling < len(start_at) and start_at[filling] == t:
            buffers[filling] = np.empty(shape, np.uint8)
            filling += 1
        for i in range(done, filling):
            top, bottom, left, right = windows[i]
            buffers[i][t - start_at[i]] = frame[top:bottom, left:right]
        while done < filling and start_at[done] + length - 1 == t:
            ready.append(buffers.pop(done))
            done += 1
        if len(ready) >= _BATCH:
            flush()
    if ready:
        flush()
    result.frames = t + 1
    if result.frames == 0:
        result.error = "no frame decoded"
    elif result.frames < length:
        result.error = f"too short: {result.frames} frames, a clip needs {length}"
    elif result.frames == planned:
        scored = [piece.result() if cutter else piece for piece in pieces]
        n = len(starts)
        result.shape, result.chunks = shape, [chunk for _, chunks in scored for chunk in chunks]
        result.rows = {"motion": np.concatenate([m for m, _ in scored]) if scored else np.zeros(0, np.float32),
                       "video": np.full(n, index), "start": starts, "yx": yx, "label": np.full(n, entry.label)}
    return result


# Finished clips scored and compressed together (fewer, larger calls than one a clip).
_BATCH = 64


def _score_and_compress(clips: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    return motion_score(clips), compress_clips(clips)


_COUNTS = ("videos", "videos_read", "videos_skipped", "frames_decoded", "train_clips", "patches", "test_clips")


def _counts(report: dict) -> dict:
    """What the stores record of their extraction: the counts, not the skipped videos' list nor the
    seconds it took (a rerun on unchanged inputs writes the same bytes; the report keeps both)."""
    return {k: v for k, v in report.items() if k not in ("skipped", "seconds")}


def extract(manifest: Manifest, clip: ClipParams, params: ExtractParams, out: DataFiles,
            record: dict, shard: tuple[int, int] = (0, 1), progress: bool = True) -> dict:
    """Writes ``out.patches``, ``out.test`` and ``out.extract_report``.

    Args:
        manifest: the videos (:func:`pyext.data.manifest.read_manifest`).
        clip, params: the ``clip`` and ``extract`` params sections.
        out: the output files.
        record: params recorded in the files' ``params`` attribute.
        shard: ``(i, n)``: process only the videos whose manifest index is ``i`` modulo ``n``
            (join the shards with :func:`merge_shards`).
    Returns:
        The report (also written as JSON).
    """
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must be 0 <= i < n, got i={index}, n={count}")
    videos = [v.path for v in manifest.videos]
    # One worker decodes with FFmpeg's threads, as raw decoding would; several get one thread each.
    threads = None if params.workers == 1 else 1
    tasks = [(i, v, manifest.root_of(v), clip, params, threads) for i, v in enumerate(manifest.videos)
             if i % count == index]
    report = {name: 0 for name in _COUNTS} | {"videos": len(tasks), "skipped": [], "shard": [index, count]}
    began = time.perf_counter()
    # Test clips keep their video's frame size (stored by size), whatever the other videos'.
    with ClipWriter(out.patches, (clip.train_frames, clip.patch, clip.patch, 3), videos,
                    {"params": record}) as patches, \
            ClipWriter(out.test, (clip.test_frames, None, None, 3), videos, {"params": record}) as tests, \
            _processed(tasks, params.workers) as results:
        for result in tqdm(results, total=len(tasks), desc="extract", unit="video", disable=not progress):
            entry = manifest.videos[result.index]
            if result.error is not None:
                report["videos_skipped"] += 1
                report["skipped"].append({"path": entry.path, "error": result.error})
                continue
            n = len(result.chunks)
            if result.split == "train":
                patches.append_compressed(result.shape, result.chunks, **result.rows)
            else:
                tests.append_compressed(result.shape, result.chunks, result.futures, **result.rows)
            report["videos_read"] += 1
            report["frames_decoded"] += result.frames
            if result.split == "train":
                report["train_clips"] += n // params.crops_per_clip
                report["patches"] += n
            else:
                report["test_clips"] += n
        report["seconds"] = round(time.perf_counter() - began, 2)
        patches.attrs["counts"] = tests.attrs["counts"] = _counts(report)
    write_json(out.extract_report, report)
    return report


def merge_shards(shards: list[DataFiles], out: DataFiles, record: dict) -> dict:
    """Joins the outputs of ``extract`` shards (one folder each) into ``out``: the same files,
    rows and report as one unsharded run (``seconds`` is the sum of the shards')."""
    reports = [json.loads(d.extract_report.read_text()) for d in shards]
    report = {name: sum(r[name] for r in reports) for name in _COUNTS}
    with open_store(shards[0].patches) as f:  # every shard lists all videos, in manifest order
        order = {path: i for i, path in enumerate(store_videos(f))}
    report["skipped"] = sorted((s for r in reports for s in r["skipped"]), key=lambda s: order[s["path"]])
    report["seconds"] = round(sum(r["seconds"] for r in reports), 2)
    attrs = {"params": record, "counts": _counts(report)}
    for store in ("patches", "test"):
        merge_stores([getattr(d, store) for d in shards], getattr(out, store), attrs)
    write_json(out.extract_report, report)
    return report


@contextlib.contextmanager
def _processed(tasks: list[Task], workers: int) -> Iterator[Iterator[VideoClips]]:
    """The results of :func:`process_video` over ``tasks``, in order.

    One worker decodes and cuts in this process while a thread scores and compresses the finished
    clips (PyAV, numpy and Zstandard release the GIL, so the two overlap without a worker process's
    start-up). Several are a pool of processes, started fresh (spawn: nothing of this process's
    threads or open files is inherited) and stopped on leaving, also after an error; they work
    ahead while this process writes.
    """
    if workers == 1:
        with ThreadPoolExecutor(1) as cutter:
            yield (process_video(task, cutter) for task in tasks)
        return
    pool = multiprocessing.get_context("spawn").Pool(workers)
    try:
        yield pool.imap(process_video, tasks)
    finally:
        pool.terminate()
        pool.join()


def finetune_patches(params, manifest_path: Path, out: DataFiles) -> str:
    """The fine-tuning patches (``finetune.patch`` square, the paper's Table 2 rows marked *) of the
    training videos of the manifest at ``manifest_path``, cut and motion-filtered as the training
    patches are, into ``out`` (its training and validation stores and its report; the candidates
    are dropped, held in the report). With ``finetune.patch`` 0, the report alone: no video is read.
    Returns the line that says what was written."""
    patch = params.finetune.patch
    if not patch:
        write_json(out.report, {"patch": 0, "why": "finetune.patch is 0: no fine-tuning"})
        return "finetune_data: finetune.patch is 0: no fine-tuning patches"
    clip = replace(params.clip, patch=patch)
    record = {"clip": params.section("clip") | {"patch": patch}, "extract": params.section("extract"),
              "filter": params.section("filter"), "finetune": params.section("finetune")}
    manifest = read_manifest(manifest_path)
    # The training videos only: the test clips are the extract stage's (full frames, any patch size).
    training = replace(manifest, videos=[v for v in manifest.videos if v.split == "train"])
    cut = extract(training, clip, params.extract, out, record)
    kept = filter_patches(out.patches, out.train, out.val, params.filter, record)
    for candidates in (out.patches, out.test, out.extract_report):  # the candidates, held in the report
        candidates.unlink()
    write_json(out.report, {"patch": patch, "extract": cut, "filter": kept})
    return (f"finetune_data: {patch}x{patch} patches of {cut['videos_read']} training videos: {kept['why']}: "
            f"{kept['train']} training and {kept['val']} validation patches")


def validation_frames(manifest: Manifest, val: Path, clip: ClipParams, params: ExtractParams, count: int,
                      out: Path, record: dict) -> str:
    """Full-frame clips of the validation videos, cut as the test clips are (``extract.test_clips_per_video``
    of each, seeded by the video), into the store ``out``: training then measures what the test measures.

    Args:
        manifest: the videos (:func:`pyext.data.manifest.read_manifest`), in the order of the stores'.
        val: the validation patches (``data/val.h5``): whose videos they are picks the videos.
        count: the first ``count`` validation videos (in manifest order) give clips; 0 writes an empty store.
        record: params recorded in the store's ``params`` attribute.
    Returns:
        The line that says what was written.
    """
    with open_store(val) as f:
        videos = store_videos(f)
        held_out = np.unique(f["video"][:])[:count].tolist()
    if videos != [v.path for v in manifest.videos]:
        raise ValueError(f"{val} lists other videos than {manifest.root}'s manifest: rerun the extract and filter stages")
    # Each cut as a test video is, into a folder beside out; its full-frame store becomes out.
    chosen = replace(manifest, videos=[replace(manifest.videos[i], split="test") for i in held_out])
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".val_frames-") as folder:
        report = extract(chosen, clip, params, DataFiles(Path(folder)), record, progress=False)
        os.replace(DataFiles(Path(folder)).test, out)
    skipped = f", {report['videos_skipped']} skipped" if report["videos_skipped"] else ""
    return (f"{report['test_clips']} full-frame validation clips of {report['videos_read']} of the first "
            f"{len(held_out)} validation videos{skipped} -> {out}")
