"""Extraction throughput against raw PyAV decoding of the same videos, in one run; the
extraction's peak memory; and the rate at which ClipDataset feeds a DataLoader from data/train.h5.

For 1 and 2 workers: the extract stage's work (decode, cut clips and crops, motion scores, write
HDF5) against decoding the same videos to RGB frames and nothing else, with the same processes and
decoder threads (one worker: FFmpeg picks its decoder threads, as extract lets it; several
workers: one decoder thread each). Frames/s and patches/s, and extraction / raw decode. Peak
memory (VmHWM) of fresh processes: extracting the set with one worker, cutting the longest video
as each worker process does, and decoding that video into one array.

    python -m bench.extract                      # the demo videos of data/manifest.json
    python -m bench.extract --long 20            # 20 generated videos of 3000 frames (2 minutes)
"""
from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from pyext.config import load_params
from pyext.data.extract import extract, process_video
from pyext.data.manifest import read_manifest
from pyext.data.video import iter_frames, read_video
from pyext.files import DataFiles


def _decode(task: tuple[Path, tuple[int, int], int | None]) -> int:
    # Frame by frame, as extraction decodes (iter_frames), keeping none: read_video's whole-video
    # array adds page faults whose cost varies 1x-4x from run to run on a VM.
    path, max_size, threads = task
    return sum(1 for _ in iter_frames(path, max_size=max_size, threads=threads))


def raw_decode(paths: list[Path], max_size: tuple[int, int], workers: int) -> tuple[float, int]:
    """Seconds and frames to decode every video with ``workers`` processes."""
    threads = None if workers == 1 else 1
    tasks = [(p, max_size, threads) for p in paths]
    start = time.perf_counter()
    if workers == 1:
        frames = sum(map(_decode, tasks))
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            frames = sum(pool.imap(_decode, tasks))
    return time.perf_counter() - start, frames


def long_set(root: Path, videos: int, frames: int) -> Path:
    """Writes ``videos`` (rounded to tens) demo-like videos of ``frames`` frames (320x240) in
    UCF101's layout under ``root`` (a fifth of them test videos) and their manifest; returns the
    manifest's path. Each is a 100-frame demo video played forwards and backwards in turn, so it
    moves all along."""
    from pyext.data.demo import generate_demo
    from pyext.data.manifest import ucf101_manifest, write_manifest
    from pyext.data.video import write_video

    generate_demo(root, classes=max(1, round(videos / 10)), groups=5, test_groups=1, clips_per_group=2, frames=100,
                  seed=0, progress=False)
    manifest = ucf101_manifest(root, 1)
    period = np.concatenate([np.arange(100), np.arange(98, 0, -1)])
    for entry in manifest.videos:
        path = root / entry.path
        write_video(path, read_video(path)[np.resize(period, frames)])
    write_manifest(root / "manifest.json", manifest)
    return root / "manifest.json"


def peak_memory_mb() -> float:
    """This process's peak resident set (``VmHWM``, MB). Unlike ``ru_maxrss``, which a process
    inherits from its parent's size at fork and exec, it counts only this program's own memory."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


# What a fresh process does before printing its peak memory (``--peak-of``).
PEAK_MODES = {"imports": "nothing: the imports alone",
              "decode": "the longest video decoded into one array (read_video)",
              "video": "the longest video's clips cut as a worker does (process_video)",
              "extract": "the whole set extracted with 1 worker"}


def _peak_of(manifest_path: Path, mode: str) -> None:
    params = load_params()
    manifest = read_manifest(manifest_path)
    longest = max(range(len(manifest.videos)),
                  key=lambda i: (Path(manifest.root) / manifest.videos[i].path).stat().st_size)
    if mode == "imports":
        pass
    elif mode == "decode":
        read_video(Path(manifest.root) / manifest.videos[longest].path, max_size=params.extract.frame_size)
    elif mode == "video":
        process_video((longest, manifest.videos[longest], Path(manifest.root), params.clip, params.extract, 1))
    else:
        with tempfile.TemporaryDirectory() as out:
            extract(manifest, params.clip, replace(params.extract, workers=1), DataFiles(Path(out)), {},
                    progress=False)
    print(peak_memory_mb())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default="data/manifest.json")
    parser.add_argument("--repeats", type=int, default=4, help="runs of each (median)")
    parser.add_argument("--train", default="data/train.h5", help="store the DataLoader reads")
    parser.add_argument("--long", type=int, default=0, metavar="N",
                        help="generate N long videos, rounded to tens (in a temporary folder), and measure "
                             "on them instead")
    parser.add_argument("--frames", type=int, default=3000, help="frames of each long video")
    parser.add_argument("--peak-of", choices=PEAK_MODES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_of is not None:
        return _peak_of(Path(args.manifest), args.peak_of)
    if args.long:
        with tempfile.TemporaryDirectory() as root:
            print(f"generating {args.long} videos of {args.frames} frames ...", flush=True)
            measure(long_set(Path(root), args.long, args.frames), args.repeats)
        return
    measure(Path(args.manifest), args.repeats)
    from bench.train import loader_rate  # torch: not in the spawned extraction workers

    print(f"\nDataLoader over {args.train}, batch 8, shuffled:")
    print("| loader workers | samples/s |")
    print("|---|---|")
    for workers in (0, 2):
        print(f"| {workers} | {loader_rate(Path(args.train), workers):.0f} |", flush=True)


def measure(manifest_path: Path, repeats: int, peaks: bool = True) -> None:
    """Prints the throughput table and (``peaks``) the peak memory of extracting ``manifest_path``'s
    videos."""
    params = load_params()
    manifest = read_manifest(manifest_path)
    paths = [Path(manifest.root) / v.path for v in manifest.videos]
    print(f"{len(paths)} videos of {manifest_path}")
    print("| workers | raw decode frames/s | extract frames/s | extract patches/s | extract / raw |")
    print("|---|---|---|---|---|")
    for workers in (1, 2):
        raw, ext = [], []
        for _ in range(repeats):  # alternated, so both see the same machine load
            seconds, frames = raw_decode(paths, params.extract.frame_size, workers)
            raw.append(frames / seconds)
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                report = extract(manifest, params.clip, replace(params.extract, workers=workers),
                                 DataFiles(Path(out)), {}, progress=False)
                seconds = time.perf_counter() - start
            ext.append((report["frames_decoded"] / seconds, report["patches"] / seconds))
        raw_rate = sorted(raw)[len(raw) // 2]
        frame_rate, patch_rate = sorted(ext)[len(ext) // 2]
        print(f"| {workers} | {raw_rate:.0f} | {frame_rate:.0f} | {patch_rate:.0f} | {frame_rate / raw_rate:.2f}x |",
              flush=True)
    if not peaks:
        return
    print("\n| peak memory of a fresh process | MB |")
    print("|---|---|")
    for mode, what in PEAK_MODES.items():
        run = subprocess.run([sys.executable, "-m", "bench.extract", "--manifest", str(manifest_path),
                              "--peak-of", mode], capture_output=True, text=True, check=True)
        print(f"| {what} | {float(run.stdout.split()[-1]):.0f} |", flush=True)


if __name__ == "__main__":
    main()
